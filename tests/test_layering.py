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
with MemoryCoordinator.open(Config.load({str(tmp_path)!r}, env={{}}, redis_enabled=False)) as c:
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


# -- one door per record ------------------------------------------------------

ROOT = CORE.parent
RECORDS = CORE / "records"
# Each door table and the one module allowed to write it (rows.py serves them all).
DOORS = {
    "sessions": "sessions.py",
    "agents": "agents.py",
    "tasks": "tasks.py",
    "memory_entries": "memory.py",
    "neural_patterns": "patterns.py",
    "metrics": "metrics.py",
    "checkpoints": "checkpoints.py",
    "import_sessions": "imports.py",
    "import_files": "imports.py",
    "injections": "injections.py",
    "archive_files": "archive.py",
    "archive_versions": "archive.py",
    "archive_parts": "archive.py",
    "archive_chunks": "archive.py",
}
_VERB = r"(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)"


def _writes(text: str) -> list[str]:
    """Tables a module's SQL writes, by name or through an f-string placeholder ('{')."""
    import re

    found = re.findall(_VERB + r"""\s+\\?["'`]?(\{|[A-Za-z_][A-Za-z0-9_.]*)""", text)
    return [t.split(".")[-1] for t in found]


def test_no_module_but_the_door_writes_a_table():
    """A second writer of a record kind is how secrets slipped past the rules before."""
    offenders: list[str] = []
    scanned = 0
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "core/store/schema.py":
            continue  # the migrations create and backfill the tables
        scanned += 1
        for table in _writes(path.read_text(encoding="utf-8")):
            if table == "{":
                if path != RECORDS / "rows.py":
                    offenders.append(f"{rel}: writes a table named at run time")
            elif table in DOORS and path != RECORDS / DOORS[table] and path != RECORDS / "rows.py":
                offenders.append(f"{rel}: writes {table} (its door is records/{DOORS[table]})")
    assert scanned > 50
    assert offenders == []


def test_the_writer_check_finds_a_second_writer():
    """The grep above must be able to fail: it sees each way SQL names a table."""
    samples = {
        'conn.execute("INSERT INTO tasks (id) VALUES (?)")': ["tasks"],
        "conn.execute('UPDATE memory_entries SET value = ?')": ["memory_entries"],
        'f"DELETE FROM {table} WHERE id = ?"': ["{"],
        '"INSERT OR REPLACE INTO import_files (path) VALUES (?)"': ["import_files"],
        '"REPLACE INTO \\"sessions\\" VALUES (?)"': ["sessions"],
    }
    for text, tables in samples.items():
        assert _writes(text) == tables, text


def test_statuses_and_types_are_defined_once():
    """Task statuses, memory types: one tuple each, which the services check against."""
    from claude_tui.core import models
    from claude_tui.core.services import tasks

    assert tuple(tasks.TRANSITIONS) == models.TASK_STATUSES
    assert set(models.OPEN_TASK_STATUSES) | set(models.TERMINAL_TASK_STATUSES) == set(
        models.TASK_STATUSES
    )
    spelled: list[str] = []
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "models.py" and '"pending", "in_progress", "blocked"' in text:
            spelled.append(path.relative_to(ROOT).as_posix())
    assert spelled == []
