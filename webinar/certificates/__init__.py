"""Certificates of attendance: numbering, issuing, the PDF, public verification and revocation (SPEC §13)."""
