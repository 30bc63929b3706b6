"""The words every layer shares, with no dependencies: ingest, store, indicators, screens and the API
all import them from here, and nothing here imports anything of cityops.

- :mod:`vocabulary.terms`: severities, event sources, incident statuses, response unit kinds and statuses.
"""
