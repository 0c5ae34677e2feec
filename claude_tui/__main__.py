"""Allow ``python -m claude_tui``."""

from claude_tui.cli.main import main

raise SystemExit(main())
