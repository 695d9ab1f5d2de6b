"""Access: join links, attendee login and sessions, the gated stream page and viewing sessions."""
