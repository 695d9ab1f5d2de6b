"""The signed links the platform sends people (join, unsubscribe, cancel, e-mail change) and the URLs they open:
below every feature that builds or reads one."""
