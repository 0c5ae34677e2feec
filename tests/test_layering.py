"""The core must run with no terminal: nothing under claude_tui/core imports Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "claude_tui" / "core"
FORBIDDEN = ("textual", "claude_tui.app")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_core_module_imports_textual_or_the_app():
    offenders = {
        str(path.relative_to(CORE)): sorted(
            n for n in _imports(path) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)
        )
        for path in CORE.rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert len(list(CORE.rglob("*.py"))) > 10
    assert offenders == {}


def test_using_the_core_loads_neither_textual_nor_chromadb(tmp_path):
    script = f"""
import sys
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
with MemoryCoordinator(Config.load({str(tmp_path)!r}, env={{}}, redis_enabled=False)) as c:
    s = c.sessions.create()
    c.memory.store("k", 1, session_id=s.id)
    assert c.memory.get("k", session_id=s.id).value == 1
print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'chromadb')))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_importing_the_core_does_no_work(tmp_path):
    """No files, connections or heavy imports at import time."""
    script = """
import sys, os
before = set(os.listdir('.'))
import claude_tui.core.coordinator, claude_tui.cli.main
assert set(os.listdir('.')) == before
print('sqlite_utils' in sys.modules, 'redis' in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert out.stdout.strip() == "False False"
