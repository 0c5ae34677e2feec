"""Reading Claude Code transcripts as conversations, one page at a time, from disk.

A transcript is opened without being read: its line offsets are found by
scanning for newlines as far as a page needs (:mod:`.lines`), and a line is
parsed into typed turns only when it is shown (:mod:`.turns`). One pass over
every line, run after the first page is on screen, finds what needs the whole
file (:mod:`.structure`): the branch ``claude --resume`` would follow, the
subagent threads and where they were spawned. :mod:`.conversation` puts a
session's main file and its subagent files together; :mod:`.locate` says
where a session's transcript is; :mod:`.links` ties imported rows to the
lines they came from, both ways.

Nothing here imports Textual: the app's conversation screen only draws.
"""
