"""Incidents (事件/工单): the lifecycle rules, sensor alarms' titles, the response kinds a category
needs, and masking of personal data. Pure code: the database work (storing, grouping alarm storms,
SLA deadlines) is in ``store.incidents``, the HTTP and screens in ``web`` and ``callbacks``;
:mod:`incidents.service` holds the use cases both of those call, which write through ``store``.
"""
