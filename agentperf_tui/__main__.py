from agentperf_tui.cli import main

raise SystemExit(main())
