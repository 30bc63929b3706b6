"""The key of a unit's vital-sign index, beside the domain ids.

The domain ids and metric names are declared with everything else about them in
:mod:`indicators.registry`; the words of incidents, events and response units (severities,
sources, kinds, statuses) are in :mod:`vocabulary.terms`. These are API, MQTT and configuration
keys (docs/vital-signs.md §2, docs/contract.md "MQTT"): never rename one.
"""

from __future__ import annotations

# Where domain values are stored or served, a unit's vital-sign index (docs/vital-signs.md §4.4)
# sits beside them under this key; it is never a domain id.
INDEX = "index"
