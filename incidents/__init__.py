"""Incidents (事件/工单): the lifecycle rules, SLA deadlines, alarm-storm grouping, the response
kinds a category needs, and masking of personal data. Pure code: the database work is in
``store.incidents``, the HTTP and screens in ``web`` and ``callbacks``.
"""
