"""Accounts: password hashing, server-side sessions and staff users."""
