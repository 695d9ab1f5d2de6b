"""Webhooks (SPEC §14): subscriptions, the durable delivery queue, Standard Webhooks signatures, the sender job."""
