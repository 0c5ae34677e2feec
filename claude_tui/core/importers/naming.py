"""Names the importer and the hooks share, in a module light enough for a hook to import."""

from __future__ import annotations

import json
from typing import Any

from claude_tui.core.secrets import safe_cut

SOURCE = "claude-code"
PROMPTS_NS = "claude-code/prompts"
COMPACTION_NS = "claude-code/compaction"


def session_id_for(claude_session_id: str) -> str:
    """The id of the session imported (or recorded by the hooks) from a Claude Code session."""
    return f"cc_{claude_session_id}"


def input_summary(name: str, data: Any) -> str:
    """A tool call's input in one short line: its command, path or query, else its JSON."""
    if not isinstance(data, dict):
        return ""
    for field_name in ("command", "file_path", "notebook_path", "pattern", "url", "query"):
        value = data.get(field_name)
        if isinstance(value, str) and value:
            return safe_cut(value, 300)
    return safe_cut(json.dumps(data, ensure_ascii=False, sort_keys=True), 300)
