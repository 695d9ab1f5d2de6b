"""Attendance that counts (SPEC §13): the verdict (minutes live, replay, presence checks) and the presence checks."""
