"""Thin handlers of the back office, one module per area."""
