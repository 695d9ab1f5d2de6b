"""The final evaluation (SPEC §13): an event's multiple-choice test, taken once after the end, scored on the server."""
