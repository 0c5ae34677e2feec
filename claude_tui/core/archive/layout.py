"""Which files make up a Claude Code session, and where each goes back when restored.

Claude Code keeps a session under ``<config>/projects/<slug>/`` (``slug``: the
project's real path with every character that is not a letter or digit turned
into ``-``)::

    <session>.jsonl                        the transcript             role "main"
    agent-<id>.jsonl                       subagent (before 2.1.2)    role "agent"
    <session>/subagents/agent-<id>.jsonl   subagent (2.1.2 on)        role "subagent"
    <session>/subagents/agent-<id>.meta.json                          role "agent-meta"
    <session>/tool-results/<file>          large tool output          role "tool-result"
    <session>/<anything else>              workflow folders and more  role "session-file"
    <config>/history.jsonl                 every typed prompt         role "history"

A file's ``rel`` is where it goes back, relative to the project folder. A
file seen in a projects folder keeps its place there exactly; one imported
from elsewhere (a copy named ``full.jsonl``) is put where Claude Code looks
for it: ``<session>.jsonl`` and ``<session>/…``.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

MAIN = "main"
AGENT = "agent"
SUBAGENT = "subagent"
AGENT_META = "agent-meta"
TOOL_RESULT = "tool-result"
SESSION_FILE = "session-file"
HISTORY = "history"
TRANSCRIPT_ROLES = (MAIN, AGENT, SUBAGENT)

HISTORY_SESSION = ""  # history.jsonl belongs to no session
HISTORY_NAME = "history.jsonl"
MAX_FOLDER_FILES = 20_000  # per session folder: more is not Claude Code's
MAX_DEPTH = 8
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def slug_of(cwd: str) -> str:
    """Claude Code's folder name for a project: its real path, non-alphanumerics as ``-``."""
    return _NOT_ALNUM.sub("-", os.path.realpath(cwd))


def safe_name(text: str) -> bool:
    """Whether ``text`` can be one path component (no separators, no ``..``, no leading dot)."""
    return bool(_SAFE.match(text)) and ".." not in text


def safe_rel(rel: str) -> bool:
    """Whether a stored ``rel`` stays inside the folder it is restored to."""
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(safe_name(p) for p in parts)


@dataclass(frozen=True)
class FileSpec:
    """One file to keep: where it is, whose it is, what it is, where it goes back."""

    path: str
    claude_session: str
    role: str
    rel: str
    project: str | None  # the projects-folder name it was seen in (None: elsewhere)


def role_of(path: Path) -> str:
    """A transcript's role from its name and place (as the importer tells them apart)."""
    if path.parent.name == "subagents":
        return SUBAGENT
    if path.name.startswith("agent-"):
        return AGENT
    return MAIN


def project_home(path: Path, role: str) -> Path:
    """The project folder a transcript of ``role`` sits in."""
    return path.parent.parent.parent if role == SUBAGENT else path.parent


def projects_slug(home: Path) -> str | None:
    """The folder's name when it is a project folder of Claude Code's ``projects`` folder."""
    if home.parent.name == "projects" and home.name.startswith("-") and safe_rel(home.name[1:]):
        return home.name
    return None


def _folder_role(first: str, name: str) -> str:
    if first == "subagents":
        if name.endswith(".meta.json"):
            return AGENT_META
        return SUBAGENT if name.endswith(".jsonl") else SESSION_FILE
    return TOOL_RESULT if first == "tool-results" else SESSION_FILE


def _walk(folder: Path) -> list[tuple[Path, str]]:
    """Regular files under ``folder`` with their path relative to it (symlinks never followed)."""
    found: list[tuple[Path, str]] = []
    pending: list[tuple[Path, str, int]] = [(folder, "", 0)]
    while pending and len(found) < MAX_FOLDER_FILES:
        current, prefix, depth = pending.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue  # vanished or unreadable: what is readable is still kept
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and depth < MAX_DEPTH:
                pending.append((Path(entry.path), rel + "/", depth + 1))
            elif stat.S_ISREG(st.st_mode) and safe_rel(rel):
                found.append((Path(entry.path), rel))
    return found


def session_specs(claude_session: str, paths: list[Path]) -> list[FileSpec]:
    """Every file of a session, given its transcripts (main and subagent files).

    Besides the transcripts: each subagent's ``.meta.json`` and everything in
    the session's folder (``<session>/``: subagents, tool results, workflows).
    """
    sid_ok = safe_name(claude_session)
    specs: dict[str, FileSpec] = {}
    folders: dict[Path, tuple[Path, str | None]] = {}  # session folder -> (home, slug)

    def add(path: Path, role: str, rel_home: str, rel_elsewhere: str, slug: str | None) -> None:
        rel = rel_home if slug is not None else rel_elsewhere
        if not safe_rel(rel):
            rel = path.name if safe_name(path.name) else f"file-{len(specs)}"
        specs.setdefault(str(path), FileSpec(str(path), claude_session, role, rel, slug))

    for given in paths:
        path = Path(os.path.abspath(given))
        role = role_of(path)
        home = project_home(path, role)
        slug = projects_slug(home)
        in_home = _relative(path, home)
        if role == MAIN:
            add(path, MAIN, in_home, f"{claude_session}.jsonl" if sid_ok else path.name, slug)
            folder = path.parent / path.stem
        elif role == AGENT:
            add(path, AGENT, in_home, path.name, slug)
            folder = None
        else:
            add(path, SUBAGENT, in_home, f"{claude_session}/subagents/{path.name}", slug)
            folder = path.parent.parent
        if role != SUBAGENT:
            meta = path.with_name(path.stem + ".meta.json")
            if meta.is_file():
                add(meta, AGENT_META, _relative(meta, home), meta.name, slug)
        if folder is not None and folder.is_dir():
            folders.setdefault(folder, (home, slug))
    for folder, (home, slug) in folders.items():
        for path, rel in _walk(folder):
            role = _folder_role(rel.split("/", 1)[0], path.name)
            add(path, role, _relative(path, home), f"{claude_session}/{rel}", slug)
    return list(specs.values())


def _relative(path: Path, home: Path) -> str:
    try:
        return path.relative_to(home).as_posix()
    except ValueError:
        return path.name


def history_of(specs: list[FileSpec]) -> Path | None:
    """``<config>/history.jsonl`` of the Claude Code folder the session was seen in."""
    for spec in specs:
        if spec.project is not None and spec.role == MAIN:
            config = Path(spec.path).parent.parent.parent
            candidate = config / HISTORY_NAME
            if candidate.is_file():
                return candidate
    return None
