"""E-mail: rendering, calendar invitations, the transactional outbox and its sender."""
