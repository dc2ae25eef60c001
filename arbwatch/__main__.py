"""Let ``python -m arbwatch`` behave exactly like the ``arbwatch`` command."""

from arbwatch.cli import main

raise SystemExit(main())
