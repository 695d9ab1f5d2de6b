"""Privacy (GDPR): the notice, the attendee's own data (see, correct, download, erase), unsubscribe, retention."""
