"""``claude-tui transcripts list|show|restore|export``: the archive of Claude Code's files.

- ``list``: every archived session (files, bytes, whether Claude Code still has it);
- ``show SESSION``: its files with every version's size and SHA-256;
- ``restore SESSION [--to DIR] [--force]``: the files back where ``claude --resume``
  finds them, byte for byte (an existing file that differs is refused without --force);
- ``export SESSION --format md|html [--out FILE]``: the conversation, readable.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from claude_tui.cli import output as out
from claude_tui.core.errors import BadInput

if TYPE_CHECKING:
    from claude_tui.core.archive.store import ArchivedFile, TranscriptArchive
    from claude_tui.core.coordinator import MemoryCoordinator

Handler = Callable[["MemoryCoordinator", argparse.Namespace], int]


def add_parsers(cmds: argparse._SubParsersAction, parser_class: type) -> None:
    """Add the ``transcripts`` command and its actions to the root parser."""
    group = cmds.add_parser(
        "transcripts", help="the archive of Claude Code transcripts: list, show, restore, export"
    ).add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=parser_class)
    p = group.add_parser("list", help="archived sessions, newest first")
    p.add_argument("--json", action="store_true")
    p = group.add_parser("show", help="a session's archived files: versions, sizes, sha256")
    p.add_argument("session", help="Claude Code session id (or cc_<id>, or a unique prefix)")
    p.add_argument("--json", action="store_true")
    p = group.add_parser(
        "restore", help="put a session's files back for `claude --resume`, byte for byte"
    )
    p.add_argument("session", help="Claude Code session id (or cc_<id>, or a unique prefix)")
    p.add_argument(
        "--to", metavar="DIR",
        help="the project folder to write to (default: ~/.claude/projects/<project slug>)",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace files that differ")
    p.add_argument(
        "--every-copy", action="store_true",
        help="also write other copies of a file (seen elsewhere) under their own names",
    )  # fmt: skip
    p.add_argument("--json", action="store_true")
    p = group.add_parser("export", help="write a conversation as Markdown or HTML")
    p.add_argument("session", help="Claude Code session id (or cc_<id>, or a unique prefix)")
    p.add_argument("--format", choices=("md", "html"), default="md", dest="fmt")
    p.add_argument("--out", metavar="FILE", help="write to FILE (default: stdout)")


def _archive(c: MemoryCoordinator) -> TranscriptArchive:
    from claude_tui.core.archive.store import TranscriptArchive

    return TranscriptArchive(c)


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size:,} B"


def transcripts_list(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.archive import purge

    archive = _archive(c)
    sessions = archive.sessions()
    stats = archive.stats()
    state = purge.status(archive)
    on_disk = {s.claude_session: any(os.path.exists(p) for p in s.main_paths) for s in sessions}
    if a.json:
        out.emit_json(
            {
                "sessions": [
                    {
                        "session": s.claude_session, "files": s.files, "bytes": s.size,
                        "updated_at": s.updated_at, "cwd": s.cwd, "project": s.project,
                        "on_disk": on_disk[s.claude_session],
                    }
                    for s in sessions
                ],
                "stats": stats,
                "purge": state.to_dict(),
            }
        )  # fmt: skip
        return 0
    out.table(
        ["SESSION", "FILES", "SIZE", "UPDATED", "CLAUDE CODE HAS IT", "PROJECT"],
        [
            [
                s.claude_session, s.files, _mb(s.size), out.when(s.updated_at),
                "yes" if on_disk[s.claude_session] else "no", s.cwd or s.project or "-",
            ]
            for s in sessions
        ],
    )  # fmt: skip
    ratio = stats["stored_bytes"] / stats["chunk_bytes"] if stats["chunk_bytes"] else 0.0
    print(
        f"{len(sessions)} session(s), {stats['files']} file(s), {stats['versions']} version(s): "
        f"{_mb(stats['kept_bytes'])} kept in {_mb(stats['stored_bytes'])} "
        f"({ratio:.2f} of the bytes, compressed and sealed)"
    )
    print(state.line())
    return 0


def _disk_state(f: ArchivedFile) -> str:
    latest = f.latest
    try:
        st = os.stat(f.path)
    except OSError:
        return "gone"
    if latest is None:
        return "?"
    if (st.st_size, st.st_mtime_ns, st.st_ino) == (f.size, f.mtime_ns, f.inode):
        return "same"
    return "grown" if st.st_size > latest.size else "changed"


def transcripts_show(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.archive.restore import choose, claude_dir, project_folder

    archive = _archive(c)
    sid = archive.resolve(a.session)
    files = archive.session_files(sid)
    folder = project_folder(files)
    target = str(claude_dir(os.environ) / "projects" / folder) if folder else None
    items, _ = choose(files, every_copy=True)
    places = {i.file.id: i.rel for i in items}
    if a.json:
        out.emit_json(
            {
                "session": sid, "restore_to": target,
                "files": [
                    {
                        "path": f.path, "role": f.role, "rel": places.get(f.id, f.rel),
                        "cwd": f.cwd, "on_disk": _disk_state(f),
                        "versions": [
                            {"n": v.n, "size": v.size, "sha256": v.sha256, "reason": v.reason,
                             "created_at": v.created_at, "updated_at": v.updated_at}
                            for v in f.versions
                        ],
                    }
                    for f in files
                ],
            }
        )  # fmt: skip
        return 0
    cwd = next((f.cwd for f in files if f.cwd), None)
    out.fields([("session", sid), ("project", cwd or "-"), ("restores to", target or "-")])
    print()
    rows: list[list[object]] = []
    for f in files:
        for v in reversed(f.versions):
            newest = v is f.latest
            rows.append(
                [
                    places.get(f.id, f.rel) if newest else "",
                    f.role if newest else "",
                    f"v{v.n}" + ("" if newest else " (older)"),
                    f"{v.size:,}",
                    v.sha256,
                    v.reason,
                    out.when(v.updated_at),
                    _disk_state(f) if newest else "",
                ]
            )
    out.table(["FILE", "ROLE", "VERSION", "BYTES", "SHA256", "KEPT AS", "UPDATED", "ON DISK"], rows)
    print()
    print(f"seen at: {', '.join(sorted({str(Path(f.path).parent) for f in files}))}")
    return 0


def transcripts_restore(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.archive.restore import restore_session

    archive = _archive(c)
    sid = archive.resolve(a.session)
    report = restore_session(
        archive, sid, to=Path(a.to) if a.to else None, env=os.environ, force=a.force,
        every_copy=a.every_copy,
    )  # fmt: skip
    if a.json:
        out.emit_json(report.to_dict())
        return 0
    print(
        f"restored {len(report.written)} file(s) to {report.target}"
        + (f"; {len(report.identical)} already there, unchanged" if report.identical else "")
    )
    for rel, wanted in report.renamed:
        print(f"  {rel}: another copy holds {wanted}, so this one keeps its own name")
    for path, size in report.left_out:
        print(f"  not written: another copy of {path} ({size:,} bytes; --every-copy writes it)")
    where = f"cd {report.cwd} && " if report.cwd else ""
    print(f"resume it with: {where}claude --resume {sid}")
    return 0


def transcripts_export(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.archive import export
    from claude_tui.core.transcripts.conversation import Conversation
    from claude_tui.core.transcripts.locate import archived_transcript

    archive = _archive(c)
    sid = archive.resolve(a.session)
    files = archived_transcript(archive, sid)
    if files is None:
        raise BadInput(f"the archive holds no main transcript of session {sid}, only subagents")
    conversation = Conversation(files)
    try:
        done = export.render(conversation, a.fmt)
    finally:
        conversation.close()
    if not a.out:
        sys.stdout.write(done.text)
        return 0
    _write_out(Path(a.out).expanduser(), done.text.encode("utf-8"))
    print(f"wrote {a.out} ({done.turns} turns, {done.threads} subagent thread(s))")
    return 0


def _write_out(path: Path, data: bytes) -> None:
    """Write an export atomically, 0600 (it holds the conversation in clear)."""
    if path.is_dir():
        raise BadInput(f"--out {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise BadInput(f"--out {path}: the folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None


TRANSCRIPT_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("transcripts", "list"): transcripts_list,
    ("transcripts", "show"): transcripts_show,
    ("transcripts", "restore"): transcripts_restore,
    ("transcripts", "export"): transcripts_export,
}


def doctor_report(c: MemoryCoordinator) -> dict[str, object]:
    """For ``doctor``: the archive's size and Claude Code's purge (with one line to show)."""
    from claude_tui.core.archive import purge

    archive = _archive(c)
    stats = archive.stats()
    state = purge.status(archive)
    line = (
        f"{_mb(stats['kept_bytes'])} archived in {_mb(stats['stored_bytes'])}; "
        + ("WARNING: " if state.warn else "")
        + state.line()
    )
    return {**stats, "purge": state.to_dict(), "line": line}


def purge_notice(c: MemoryCoordinator) -> None:
    """After an import: say so on stderr when Claude Code deletes within 30 days what it keeps."""
    from claude_tui.core.archive import purge

    state = purge.status(_archive(c))
    if state.warn and state.archived_sessions:
        sys.stderr.write(f"claude-tui: note: {state.line()}\n")
