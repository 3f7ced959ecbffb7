from adapterctl.cli.app import main

raise SystemExit(main())
