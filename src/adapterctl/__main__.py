"""``python -m adapterctl``: the command line, as the ``adapterctl`` script runs it."""

from adapterctl.cli.app import main

raise SystemExit(main())
