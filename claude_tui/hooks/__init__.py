"""Claude Code hooks: ``claude-tui hook EVENT`` records each session live and recalls.

A short-lived process per event, so the path imports only what it needs,
fails open (exit 0, no output, the failure counted in ``hooks/status.json``)
and never loses a capture (what it cannot write is spooled, sealed, and
applied by the next hook, in order, exactly once).
"""
