from pushscope.cli import main

raise SystemExit(main())
