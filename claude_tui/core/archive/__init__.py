"""The transcript archive: Claude Code's files kept byte for byte in the data dir.

- :mod:`.store` keeps files (versions, incremental appends, dedup) and reads them back;
- :mod:`.layout` says which files belong to a session and where they go back;
- :mod:`.codec` compresses and seals chunk payloads;
- :mod:`.restore` writes a session's files back to Claude Code's projects folder;
- :mod:`.export` renders a session as Markdown or HTML (read with
  :mod:`claude_tui.core.transcripts`, the reader the app's viewer uses);
- :mod:`.purge` reads Claude Code's ``cleanupPeriodDays`` and counts what it deleted;
- :mod:`.check` checks the archive tables' structure (backup verification).

Nothing here runs at import time; no module imports Textual.
"""
