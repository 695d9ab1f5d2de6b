"""HTTP plumbing shared by every page: middleware, forms and CSRF, errors, client IPs, rate limits."""
