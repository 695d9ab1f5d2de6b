"""Events: their data, consent-text versions, and the public pages that list and show them."""
