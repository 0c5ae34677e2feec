"""claude-tui's hooks and MCP server in Claude Code's settings files: install, uninstall, status.

Where Claude Code reads them (``CLAUDE_CONFIG_DIR`` replaces ``~/.claude`` and moves
``~/.claude.json`` into it):

==========  ==============================================  ====================
scope       file                                            what we put there
==========  ==============================================  ====================
user        ``~/.claude/settings.json``                     ``hooks``
user        ``~/.claude.json`` (also Claude Code's state)   ``mcpServers``
project     ``<project>/.claude/settings.json``             ``hooks``
project     ``<project>/.mcp.json``                         ``mcpServers``
project     ``<project>/.claude/settings.local.json``       ``enabledMcpjsonServers``
==========  ==============================================  ====================

A project's ``.mcp.json`` server stays "Pending approval" until approved; the
approval Claude Code itself records (its dialog writes it) is
``enabledMcpjsonServers`` in the project's ``settings.local.json``. Claude Code
honours that file only in a folder you have trusted (the prompt on the first
``claude`` there), so it is this project's approval and no other's; the same
entry in ``~/.claude/settings.json`` would approve any repository's server that
calls itself ``claude-tui``.

Merging keeps everything else as it is, in order: other hooks, matcher groups,
servers and keys. Our hook entries are recognised by their command
(``... -m claude_tui ... hook ...``), our server by running claude-tui; a
foreign server named ``claude-tui`` is refused, not overwritten.

Before a file that holds none of our entries changes, its bytes are kept beside
it as ``<name>.claude-tui-backup`` (mode 0600; rewritten only when they differ).
Uninstall writes those bytes back when the file, our entries aside, still says
what the backup says; deletes a file that install created and that holds
nothing else; otherwise removes only our entries. Files are written atomically
(a temp file, then ``os.replace``) with their mode kept (new files: 0600).
No Textual, no database: the CLI runs this before opening the store.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_tui.core.errors import BadInput, ClaudeTUIError

SERVER_NAME = "claude-tui"
PLUGIN_NAME = "tui-memory"  # Claude Code reserves plugin names that start with "claude-"
BACKUP_SUFFIX = ".claude-tui-backup"
SCOPES = ("user", "project")
# Every event we hook, with its timeout in seconds. Claude Code kills a SessionEnd
# hook after ~1.5 s unless it has a timeout; Stop imports the transcript.
HOOK_EVENTS: tuple[tuple[str, int], ...] = (
    ("SessionStart", 10),
    ("UserPromptSubmit", 10),
    ("PostToolUse", 10),
    ("PostToolUseFailure", 10),
    ("PreCompact", 10),
    ("Stop", 30),
    ("SubagentStop", 10),
    ("SessionEnd", 10),
)
NEW_FILE_MODE = 0o600
_ATTEMPTS = 3  # re-plan when a file changes between reading and writing it

HOOKS, SERVER, APPROVAL = "hooks", "mcp server", "approval"  # what a file holds of ours
_APPROVALS = "enabledMcpjsonServers"
_REJECTIONS = "disabledMcpjsonServers"


# -- where ------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsFile:
    """One file Claude Code reads, and which of our entries go into it."""

    path: Path
    aspects: tuple[str, ...]

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + BACKUP_SUFFIX)


def claude_dir(home: Path, config_dir: Path | None = None) -> Path:
    """Claude Code's user folder: ``CLAUDE_CONFIG_DIR`` or ``~/.claude``."""
    return config_dir if config_dir is not None else home / ".claude"


def global_config_path(home: Path, config_dir: Path | None = None) -> Path:
    """``~/.claude.json`` (user MCP servers, project trust), or inside ``CLAUDE_CONFIG_DIR``."""
    return config_dir / ".claude.json" if config_dir is not None else home / ".claude.json"


def scope_files(
    scope: str, *, home: Path, project: Path | None = None, config_dir: Path | None = None
) -> list[SettingsFile]:
    """The files of ``scope``, in the order they are written."""
    if scope == "user":
        return [
            SettingsFile(claude_dir(home, config_dir) / "settings.json", (HOOKS,)),
            SettingsFile(global_config_path(home, config_dir), (SERVER,)),
        ]
    if scope != "project" or project is None:
        raise BadInput(f"unknown scope {scope!r} (user, or project with a project dir)")
    return [
        SettingsFile(project / ".claude" / "settings.json", (HOOKS,)),
        SettingsFile(project / ".mcp.json", (SERVER,)),
        SettingsFile(project / ".claude" / "settings.local.json", (APPROVAL,)),
    ]


def plugin_dir() -> Path:
    """The Claude Code plugin shipped in the package (``claude plugin validate`` passes)."""
    return Path(__file__).resolve().parents[2] / "plugin"


# -- what -------------------------------------------------------------------


def hook_client() -> Path:
    """The hook's front door, run as a bare script (``hooks/client.py``)."""
    return Path(__file__).resolve().parents[2] / "hooks" / "client.py"


def hook_command(python: str, data_dir: str, event: str) -> str:
    """The shell command of our hook for ``event``.

    ``-I -S`` and the client's path rather than ``-m claude_tui``: Claude Code
    waits for this process on every prompt and tool call, and without ``site``
    and the package it starts at the interpreter's floor (the client hands the
    payload to the warm hook worker, or imports the package only when it must).
    """
    words = (python, "-I", "-S", str(hook_client()), "--data-dir", data_dir, event)
    return " ".join(shlex.quote(w) for w in words)


def server_entry(python: str, data_dir: str) -> dict[str, Any]:
    """Our MCP server: no session flags, the server finds its session itself."""
    return {
        "type": "stdio",
        "command": python,
        "args": ["-m", "claude_tui", "--data-dir", data_dir, "mcp"],
        "env": {},
    }


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # an unbalanced quote: still look at the words
        return command.split()


_CLIENT_TAIL = ("claude_tui", "hooks", "client.py")


def _after_module(words: list[str]) -> list[str] | None:
    """The words after ``-m claude_tui`` (or the hook client's path, as ``hook …``).

    None when the command line does not run claude-tui.
    """
    for i, word in enumerate(words):
        if word == "-m" and i + 1 < len(words) and words[i + 1] == "claude_tui":
            return words[i + 2 :]
        if tuple(Path(word).parts[-3:]) == _CLIENT_TAIL:
            return ["hook", *words[i + 1 :]]
    return None


def is_our_hook(hook: Any) -> bool:
    """A hook entry install wrote: its command runs ``-m claude_tui ... hook``."""
    if not isinstance(hook, dict) or not isinstance(hook.get("command"), str):
        return False
    rest = _after_module(_words(hook["command"]))
    return rest is not None and "hook" in rest


def runs_claude_tui(server: Any) -> bool:
    """An MCP server entry whose command runs claude-tui (ours to update or remove)."""
    if not isinstance(server, dict) or not isinstance(server.get("command"), str):
        return False
    args = server.get("args")
    words = (
        [server["command"], *(a for a in args if isinstance(a, str))]
        if isinstance(args, list)
        else [server["command"]]
    )
    if _after_module(words) is not None:
        return True
    return any(os.path.basename(w) == "claude-tui" for w in words)


def _is_installed_server(server: Any) -> bool:
    """Exactly the shape install writes (unlike a hand-made ``claude-tui mcp`` entry)."""
    if not isinstance(server, dict) or not isinstance(server.get("args"), list):
        return False
    args = server["args"]
    return len(args) == 5 and args[:3] == ["-m", "claude_tui", "--data-dir"] and args[4] == "mcp"


def _data_dir_of(words: list[str]) -> str | None:
    rest = _after_module(words) or []
    for i in range(len(rest) - 1):
        if rest[i] == "--data-dir":
            return rest[i + 1]
    return None


# -- reading and writing ----------------------------------------------------


@dataclass
class _Doc:
    file: SettingsFile
    raw: bytes | None  # None: the file does not exist
    data: dict[str, Any]
    mode: int


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text; fix or move it (nothing was written)") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
            "fix or move it (nothing was written)"
        ) from None
    if not isinstance(data, dict):
        raise BadInput(
            f"{path}: expected a JSON object at the top; fix or move it (nothing was written)"
        )
    return data


def _read(file: SettingsFile) -> _Doc:
    try:
        raw = file.path.read_bytes()
        mode = file.path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return _Doc(file, None, {}, NEW_FILE_MODE)
    except OSError as exc:
        raise BadInput(
            f"{file.path}: cannot read it ({exc.strerror}); nothing was written"
        ) from None
    return _Doc(file, raw, _parse(raw, file.path), mode)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _encode(data: dict[str, Any], like: bytes | None) -> bytes:
    """JSON as Claude Code writes it (indent 2, UTF-8 as is); the old file's final newline."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if like is None or not like.strip() or like.endswith(b"\n"):
        text += "\n"
    return text.encode("utf-8")


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` (through a symlink, which stays) by ``data`` in one step."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# -- one file's change --------------------------------------------------------


@dataclass
class FileChange:
    """What install or uninstall does to one file."""

    path: Path
    before: bytes | None  # None: absent
    after: bytes | None  # None: deleted (or stays absent)
    mode: int
    what: list[str]
    backup_path: Path
    backup_write: bytes | None = None  # keep these bytes as the backup first
    backup_drop: bool = False  # remove the backup afterwards (the original is back)
    restored: bool = False  # ``after`` is the backup, byte for byte

    @property
    def verb(self) -> str:
        if self.before is None:
            return "created"
        return "deleted" if self.after is None else "updated"

    def diff(self) -> str:
        """A unified diff of the change (``/dev/null`` for a created or deleted file)."""
        old = _lines(self.before)
        new = _lines(self.after)
        lines = difflib.unified_diff(
            old,
            new,
            fromfile=str(self.path) if self.before is not None else "/dev/null",
            tofile=str(self.path) if self.after is not None else "/dev/null",
        )
        return "".join(lines)


def _lines(raw: bytes | None) -> list[str]:
    if raw is None:
        return []
    lines = raw.decode("utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


class _Raced(Exception):
    """A file changed between planning and writing: plan again."""


@dataclass
class Plan:
    """Every file change of one install or uninstall, computed before anything is written."""

    action: str
    scope: str
    changes: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def diff(self) -> str:
        return "".join(change.diff() for change in self.changes)

    def apply(self) -> None:
        """Write every change; refuse (``_Raced``, nothing written) if a file moved meanwhile."""
        for change in self.changes:
            if _read_bytes(change.path) != change.before:
                raise _Raced(str(change.path))
        for change in self.changes:
            if change.backup_write is not None:
                _write_atomic(change.backup_path, change.backup_write, 0o600)
            if change.after is None:
                change.path.unlink(missing_ok=True)
                parent = change.path.parent
                if parent.name == ".claude":
                    try:
                        parent.rmdir()  # only when empty: one we made for this file
                    except OSError:
                        pass
            else:
                _write_atomic(change.path, change.after, change.mode)
            if change.backup_drop:
                change.backup_path.unlink(missing_ok=True)


# -- install --------------------------------------------------------------------


def _bad_shape(path: Path, what: str) -> BadInput:
    return BadInput(f"{path}: {what}; fix or move it (nothing was written)")


def _our_hooks(groups: list[Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(matcher group, hook entry) for each of our entries in an event's list."""
    return [
        (group, hook)
        for group in groups
        if isinstance(group, dict) and isinstance(group.get("hooks"), list)
        for hook in group["hooks"]
        if is_our_hook(hook)
    ]


def _drop_hooks(hooks: dict[str, Any], event: str, found: list[tuple[dict, dict]]) -> None:
    """Remove ``found`` from the event; drop groups and the event only if we emptied them."""
    groups = hooks[event]
    touched = []
    for group, hook in found:
        group["hooks"][:] = [h for h in group["hooks"] if h is not hook]
        touched.append(group)
    groups[:] = [g for g in groups if g["hooks"] or not any(g is t for t in touched)]
    if not groups:
        del hooks[event]


def _install_hooks(data: dict[str, Any], path: Path, python: str, data_dir: str) -> list[str]:
    hooks = data.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise _bad_shape(path, '"hooks" is not a JSON object')
    added: list[str] = []
    updated: list[str] = []
    removed = 0
    wanted = {event for event, _ in HOOK_EVENTS}
    for event, timeout in HOOK_EVENTS:
        desired = {
            "type": "command",
            "command": hook_command(python, data_dir, event),
            "timeout": timeout,
        }
        groups = hooks.get(event)
        if groups is None:
            hooks[event] = [{"matcher": "", "hooks": [desired]}]
            added.append(event)
            continue
        if not isinstance(groups, list):
            raise _bad_shape(path, f'"hooks.{event}" is not a JSON list')
        found = _our_hooks(groups)
        if not found:
            groups.append({"matcher": "", "hooks": [desired]})
            added.append(event)
            continue
        first = found[0][1]
        if any(first.get(k) != v for k, v in desired.items()):
            first.update(desired)  # in place: its group, position and other keys stay
            updated.append(event)
        if len(found) > 1:
            _drop_hooks(hooks, event, found[1:])
            removed += len(found) - 1
    for event in [e for e in hooks if e not in wanted and isinstance(hooks[e], list)]:
        found = _our_hooks(hooks[event])  # an event we no longer hook
        if found:
            _drop_hooks(hooks, event, found)
            removed += len(found)
    what = []
    if added:
        what.append(f"hooks added for {', '.join(added)}")
    if updated:
        what.append(f"hooks updated for {', '.join(updated)}")
    if removed:
        what.append(f"{removed} stale hook entr{'y' if removed == 1 else 'ies'} removed")
    return what


def _describe(server: Any) -> str:
    if isinstance(server, dict) and isinstance(server.get("command"), str):
        args = server["args"] if isinstance(server.get("args"), list) else []
        return "runs " + " ".join([server["command"], *map(str, args)])[:80]
    if isinstance(server, dict) and isinstance(server.get("url"), str):
        return f"url {server['url'][:80]}"
    return "not a command"


def _install_server(data: dict[str, Any], path: Path, python: str, data_dir: str) -> list[str]:
    desired = server_entry(python, data_dir)
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise _bad_shape(path, '"mcpServers" is not a JSON object')
    current = servers.get(SERVER_NAME)
    if current is None:
        servers[SERVER_NAME] = desired
        return [f"MCP server {SERVER_NAME} added"]
    if not runs_claude_tui(current):
        raise BadInput(
            f'{path}: an MCP server named "{SERVER_NAME}" is already there and is not '
            f"claude-tui ({_describe(current)}); rename or remove it, then install again "
            "(nothing was written)"
        )
    same = all(current.get(k) == desired[k] for k in ("type", "command", "args"))
    if same and isinstance(current.get("env"), dict):
        return []
    entry = dict(current)  # in place: its position and any other keys (env) stay
    entry.update({k: desired[k] for k in ("type", "command", "args")})
    if not isinstance(entry.get("env"), dict):
        entry["env"] = {}
    servers[SERVER_NAME] = entry
    return [f"MCP server {SERVER_NAME} updated"]


def _install_approval(data: dict[str, Any], path: Path) -> list[str]:
    enabled = data.get(_APPROVALS)
    if isinstance(enabled, str):  # Claude Code reads a lone name as a list of one
        enabled = [enabled]
    if enabled is None:
        enabled = []
    if not isinstance(enabled, list):
        raise _bad_shape(path, f'"{_APPROVALS}" is not a JSON list')
    if SERVER_NAME in enabled:
        return []
    data[_APPROVALS] = [*enabled, SERVER_NAME]
    return [f"MCP server {SERVER_NAME} approved ({_APPROVALS})"]


def _has_installed(data: dict[str, Any], aspects: tuple[str, ...]) -> bool:
    """Whether the file holds entries install wrote (then it is no original to back up)."""
    if HOOKS in aspects and isinstance(data.get("hooks"), dict):
        for groups in data["hooks"].values():
            if isinstance(groups, list) and _our_hooks(groups):
                return True
    if SERVER in aspects and isinstance(data.get("mcpServers"), dict):
        return _is_installed_server(data["mcpServers"].get(SERVER_NAME))
    return False


def plan_install(
    scope: str,
    *,
    python: str,
    data_dir: str,
    home: Path,
    project: Path | None = None,
    config_dir: Path | None = None,
) -> Plan:
    """What installing into ``scope`` would write; reads every file first, writes nothing.

    Raises:
        BadInput: a file is not valid JSON (or not the shape Claude Code reads),
            or a foreign server is named ``claude-tui``.
    """
    docs = [_read(f) for f in scope_files(scope, home=home, project=project, config_dir=config_dir)]
    plan = Plan("install", scope)
    for doc in docs:
        data = copy.deepcopy(doc.data)
        what: list[str] = []
        if HOOKS in doc.file.aspects:
            what += _install_hooks(data, doc.file.path, python, data_dir)
        if SERVER in doc.file.aspects:
            what += _install_server(data, doc.file.path, python, data_dir)
        if APPROVAL in doc.file.aspects:
            what += _install_approval(data, doc.file.path)
        if not what:
            continue
        change = FileChange(
            doc.file.path, doc.raw, _encode(data, doc.raw), doc.mode, what, doc.file.backup_path
        )
        if doc.raw is not None and not _has_installed(doc.data, doc.file.aspects):
            if _read_bytes(doc.file.backup_path) != doc.raw:
                change.backup_write = doc.raw
        plan.changes.append(change)
    if scope == "project" and project is not None:
        plan.notes += _project_notes(docs, home, project, config_dir)
    return plan


def _project_notes(
    docs: list[_Doc], home: Path, project: Path, config_dir: Path | None
) -> list[str]:
    notes = []
    for doc in docs:
        rejected = doc.data.get(_REJECTIONS)
        if isinstance(rejected, list) and SERVER_NAME in rejected:
            notes.append(
                f"{doc.file.path} rejects {SERVER_NAME} ({_REJECTIONS}): "
                "remove it there or Claude Code will not start the server"
            )
    if not is_trusted(home, project, config_dir):
        notes.append(
            f"Claude Code has not been trusted in {project} yet: the first `claude` there asks; "
            f"until then `claude mcp list` shows {SERVER_NAME} as pending approval"
        )
    return notes


def is_trusted(home: Path, project: Path, config_dir: Path | None = None) -> bool:
    """Whether the trust prompt was accepted for ``project`` (read-only; False when unsure)."""
    try:
        raw = global_config_path(home, config_dir).read_bytes()
        data = json.loads(raw.decode("utf-8-sig"))
    except (OSError, ValueError):
        return False
    projects = data.get("projects") if isinstance(data, dict) else None
    entry = projects.get(str(project)) if isinstance(projects, dict) else None
    return isinstance(entry, dict) and entry.get("hasTrustDialogAccepted") is True


# -- uninstall --------------------------------------------------------------------


def _strip(data: dict[str, Any], aspects: tuple[str, ...]) -> list[str]:
    """Remove our entries from ``data`` in place; say what went."""
    what = []
    hooks = data.get("hooks")
    if HOOKS in aspects and isinstance(hooks, dict):
        events = []
        for event in list(hooks):
            groups = hooks[event]
            found = _our_hooks(groups) if isinstance(groups, list) else []
            if found:
                _drop_hooks(hooks, event, found)
                events.append(event)
        if events:
            what.append(f"hooks removed from {', '.join(events)}")
            if not hooks:
                del data["hooks"]
    servers = data.get("mcpServers")
    if (
        SERVER in aspects
        and isinstance(servers, dict)
        and runs_claude_tui(servers.get(SERVER_NAME))
    ):
        del servers[SERVER_NAME]
        what.append(f"MCP server {SERVER_NAME} removed")
        if not servers:
            del data["mcpServers"]
    enabled = data.get(_APPROVALS)
    if APPROVAL in aspects and (
        enabled == SERVER_NAME or (isinstance(enabled, list) and SERVER_NAME in enabled)
    ):
        rest = [n for n in enabled if n != SERVER_NAME] if isinstance(enabled, list) else []
        if rest:
            data[_APPROVALS] = rest
        else:
            del data[_APPROVALS]
        what.append(f"approval of {SERVER_NAME} removed")
    return what


def _normalised(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without what means nothing to Claude Code: empty groups, lists and objects."""
    data = copy.deepcopy(data)
    hooks = data.get("hooks")
    if isinstance(hooks, dict):
        for event in list(hooks):
            groups = hooks[event]
            if isinstance(groups, list):
                groups[:] = [
                    g for g in groups if not (isinstance(g, dict) and g.get("hooks") == [])
                ]
                if not groups:
                    del hooks[event]
    for key in ("hooks", "mcpServers", _APPROVALS):
        if data.get(key) in ({}, []):
            del data[key]
    return data


def _same_without_ours(
    backup: bytes, path: Path, stripped: dict[str, Any], aspects: tuple[str, ...]
) -> bool:
    """Whether the backup, our entries aside, says what the file says without them."""
    try:
        data = _parse(backup, path)
    except BadInput:
        return False
    _strip(data, aspects)
    return _normalised(data) == _normalised(stripped)


def plan_uninstall(
    scope: str, *, home: Path, project: Path | None = None, config_dir: Path | None = None
) -> Plan:
    """What uninstalling from ``scope`` would write; reads every file first, writes nothing."""
    docs = [_read(f) for f in scope_files(scope, home=home, project=project, config_dir=config_dir)]
    plan = Plan("uninstall", scope)
    for doc in docs:
        if doc.raw is None:
            continue
        servers = doc.data.get("mcpServers")
        if SERVER in doc.file.aspects and isinstance(servers, dict):
            other = servers.get(SERVER_NAME)
            if other is not None and not runs_claude_tui(other):
                plan.notes.append(
                    f'{doc.file.path}: left the MCP server "{SERVER_NAME}" there: '
                    f"it is not claude-tui ({_describe(other)})"
                )
        data = copy.deepcopy(doc.data)
        what = _strip(data, doc.file.aspects)
        if not what:
            continue
        backup = _read_bytes(doc.file.backup_path)
        change = FileChange(doc.file.path, doc.raw, None, doc.mode, what, doc.file.backup_path)
        if backup is not None and _same_without_ours(
            backup, doc.file.backup_path, data, doc.file.aspects
        ):
            change.after, change.restored, change.backup_drop = backup, True, True
        elif backup is None and not data:
            change.after = None  # install created it and nothing else is in it
        else:
            change.after = _encode(data, doc.raw)
            if backup is not None:
                plan.notes.append(
                    f"{doc.file.path} changed since install: removed only claude-tui's entries; "
                    f"the file as it was before install is still in {doc.file.backup_path}"
                )
        plan.changes.append(change)
    return plan


# -- running a plan ---------------------------------------------------------------


def _run(make: Callable[[], Plan], dry_run: bool) -> Plan:
    for _attempt in range(_ATTEMPTS):
        plan = make()
        if dry_run or not plan.changes:
            return plan
        try:
            plan.apply()
            return plan
        except _Raced as exc:
            moved = str(exc)
    raise ClaudeTUIError(
        f"{moved} kept changing while claude-tui was about to write it (is Claude Code "
        "writing it now?); nothing was written, run the command again"
    )


def install(
    scope: str,
    *,
    python: str,
    data_dir: str,
    home: Path,
    project: Path | None = None,
    config_dir: Path | None = None,
    dry_run: bool = False,
) -> Plan:
    """Install our hooks and MCP server into ``scope`` (only plan it when ``dry_run``)."""
    return _run(
        lambda: plan_install(
            scope,
            python=python,
            data_dir=data_dir,
            home=home,
            project=project,
            config_dir=config_dir,
        ),
        dry_run,
    )


def uninstall(
    scope: str,
    *,
    home: Path,
    project: Path | None = None,
    config_dir: Path | None = None,
    dry_run: bool = False,
) -> Plan:
    """Remove what install added to ``scope`` (only plan it when ``dry_run``)."""
    return _run(
        lambda: plan_uninstall(scope, home=home, project=project, config_dir=config_dir),
        dry_run,
    )


# -- status -------------------------------------------------------------------------


def _scope_status(files: list[SettingsFile], data_dir: str | None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "files": [str(f.path) for f in files],
        "hooks": [],
        "hooks_missing": [],
        "mcp_server": None,
        "data_dirs": [],
        "errors": [],
    }
    dirs: list[str] = []
    events: list[str] = []
    for file in files:
        try:
            doc = _read(file)
        except BadInput as exc:
            status["errors"].append(exc.message)
            continue
        hooks = doc.data.get("hooks")
        if HOOKS in file.aspects and isinstance(hooks, dict):
            for event, groups in hooks.items():
                for _group, hook in _our_hooks(groups) if isinstance(groups, list) else []:
                    events.append(event)
                    dirs.append(_data_dir_of(_words(hook["command"])) or "?")
        servers = doc.data.get("mcpServers")
        if SERVER in file.aspects and isinstance(servers, dict) and SERVER_NAME in servers:
            server = servers[SERVER_NAME]
            if runs_claude_tui(server):
                status["mcp_server"] = "installed"
                args = server["args"] if isinstance(server.get("args"), list) else []
                dirs.append(_data_dir_of([server["command"], *map(str, args)]) or "?")
            else:
                status["mcp_server"] = "foreign"
        if APPROVAL in file.aspects:
            enabled = doc.data.get(_APPROVALS)
            status["approved"] = enabled == SERVER_NAME or (
                isinstance(enabled, list) and SERVER_NAME in enabled
            )
    status["hooks"] = [e for e, _ in HOOK_EVENTS if e in events]
    status["hooks_missing"] = [e for e, _ in HOOK_EVENTS if e not in events]
    status["data_dirs"] = sorted(set(dirs))
    status["installed"] = bool(events) or status["mcp_server"] == "installed"
    if data_dir is not None:
        status["other_data_dir"] = any(d != data_dir for d in status["data_dirs"])
    return status


def _plugin_enabled(paths: list[Path]) -> bool:
    for path in paths:
        try:
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (OSError, ValueError):
            continue
        plugins = data.get("enabledPlugins") if isinstance(data, dict) else None
        if isinstance(plugins, dict) and any(
            k.startswith(PLUGIN_NAME + "@") and v is True for k, v in plugins.items()
        ):
            return True
    return False


def _scope_line(name: str, s: dict[str, Any]) -> str:
    if s["errors"]:
        return f"{name}: {s['errors'][0]}"
    if not s["installed"]:
        return f"{name}: not installed" + (
            "" if s["mcp_server"] != "foreign" else f" (another server is named {SERVER_NAME})"
        )
    parts = [f"{len(s['hooks'])}/{len(HOOK_EVENTS)} hooks"]
    parts.append("MCP server" if s["mcp_server"] == "installed" else "no MCP server")
    if s.get("approved") is False:
        parts.append("not approved")
    if s.get("trusted") is False:
        parts.append("folder not trusted by Claude Code yet")
    line = f"{name}: {', '.join(parts)}"
    if s.get("other_data_dir"):
        line += f" (data dir {', '.join(s['data_dirs'])})"
    return line


def claude_code_status(
    home: Path,
    project_dir: Path | None = None,
    *,
    config_dir: Path | None = None,
    data_dir: Path | str | None = None,
) -> dict[str, Any]:
    """For ``doctor``: per scope, which of our hooks are in place and whether the server is.

    Reads a few small JSON files and never raises for a bad one (it is reported
    under ``errors``). ``data_dir`` (the one doctor runs on) flags an
    install that points at another data dir.
    """
    wanted = str(data_dir) if data_dir is not None else None
    scopes = {"user": _scope_status(scope_files("user", home=home, config_dir=config_dir), wanted)}
    user_dir = claude_dir(home, config_dir)
    if project_dir is not None and (project_dir / ".claude") != user_dir:
        files = scope_files("project", home=home, project=project_dir, config_dir=config_dir)
        scopes["project"] = _scope_status(files, wanted)
        scopes["project"]["dir"] = str(project_dir)
        scopes["project"]["trusted"] = is_trusted(home, project_dir, config_dir)
    settings = [user_dir / "settings.json"]
    if project_dir is not None:
        settings += [project_dir / ".claude" / n for n in ("settings.json", "settings.local.json")]
    plugin = _plugin_enabled(settings)
    line = "; ".join(
        _scope_line("user" if n == "user" else f"project {s['dir']}", s) for n, s in scopes.items()
    )
    if plugin:
        line += f"; plugin {PLUGIN_NAME} enabled"
        if any(s["installed"] for s in scopes.values()):
            line += " as well (each event is recorded twice: keep one)"
    return {
        "line": line,
        "scopes": scopes,
        "plugin": {"name": PLUGIN_NAME, "enabled": plugin, "dir": str(plugin_dir())},
    }
