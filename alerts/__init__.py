"""Alerts for other agencies' systems: the current amber/red situation as OASIS CAP 1.2 (:mod:`alerts.cap`)."""
