"""``python -m cityops`` is the ``cityops`` command."""

from cityops.cli import main

raise SystemExit(main())
