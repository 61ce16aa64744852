from frostfork.cli import main

raise SystemExit(main())
