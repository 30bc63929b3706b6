"""The words every layer shares, with no dependencies: ingest, store, indicators, screens and the API
all import them from here, and nothing here imports anything of cityops.

- :mod:`vocabulary.terms`: severities, event sources, incident statuses, response unit kinds and statuses;
- :mod:`vocabulary.messages`: the one message catalogue, English and Chinese, with the time and
  duration formats every page, report, alarm title and notification uses.
"""
