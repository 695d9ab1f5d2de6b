"""The JSON API under /api/v1 (SPEC §14): tokens, the operations and their OpenAPI description."""
