"""Analyst reports: what to report (``spec``), the tables (``tables``, pure pandas), the files
(``exports``), and ``build``, the one module here that reads the database (through ``store``)."""
