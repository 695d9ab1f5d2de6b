"""Webinar registration platform: the domain and the public site."""
