"""The ``claude-tui`` command line."""
