"""Reports: the registered, active and traffic exports and the traffic analytics page (imports from webinar/)."""
