"""The staff back office: organisations, staff accounts, events, registrants, the outbox and the audit log."""
