"""Registration for an event: the form, proof of consent, approval and the e-mails that follow."""
