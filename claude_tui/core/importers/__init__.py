"""Importers of other tools' histories (Claude Code transcripts first).

Nothing is imported here at package import time: the driver lives in
:mod:`claude_tui.core.importers.claude_code`.
"""
