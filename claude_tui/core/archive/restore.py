"""Putting a session's archived files back where ``claude --resume`` finds them.

The default place is ``<config>/projects/<slug>/`` (``<config>``:
``$CLAUDE_CONFIG_DIR`` or ``~/.claude``; the slug as Claude Code makes it from
the project's real path, or the folder name the files were seen in). Each
file goes to its ``rel`` there (see :mod:`.layout`), byte for byte, with the
newest version the archive holds.

All or nothing, as far as a file system allows: every target is checked
first (an existing file that differs is refused unless ``force``), every
file is written to a temporary name in its folder and checked against its
SHA-256, and only then renamed into place. A file already there with the same
bytes is left alone. New files are 0600, new folders 0700; a restored file
has a new mtime, so Claude Code's cleanup gives it a fresh ``cleanupPeriodDays``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from claude_tui.core.archive import layout
from claude_tui.core.archive.store import ArchivedFile, TranscriptArchive, Version
from claude_tui.core.errors import BadInput, NotFound


@dataclass(frozen=True)
class Item:
    """One file to put back: which archived file and version, and where."""

    file: ArchivedFile
    version: Version
    rel: str
    wanted: str | None = None  # the place another copy took (``every_copy``)


@dataclass
class RestoreReport:
    """What a restore did (or, for a dry run, would do)."""

    session: str
    target: str
    written: list[tuple[str, int, str]] = field(default_factory=list)  # rel, size, sha256
    identical: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # rel, the rel it wanted
    left_out: list[tuple[str, int]] = field(default_factory=list)  # other copies: path, size
    cwd: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {
            "session": self.session, "target": self.target, "cwd": self.cwd,
            "written": [{"rel": r, "size": s, "sha256": h} for r, s, h in self.written],
            "identical": self.identical,
            "renamed": [{"rel": r, "wanted": w} for r, w in self.renamed],
            "left_out": [{"path": p, "size": s} for p, s in self.left_out],
        }  # fmt: skip


def claude_dir(env: Mapping[str, str]) -> Path:
    """Claude Code's folder: ``$CLAUDE_CONFIG_DIR`` or ``$HOME/.claude``."""
    if env.get("CLAUDE_CONFIG_DIR"):
        return Path(env["CLAUDE_CONFIG_DIR"]).expanduser()
    return Path(env.get("HOME") or Path.home()).expanduser() / ".claude"


def project_folder(files: list[ArchivedFile]) -> str | None:
    """The projects-folder name of a session: as seen, else made from its cwd."""
    mains = [f for f in files if f.role == layout.MAIN] or files
    for f in mains:
        if f.project:
            return f.project
    for f in mains:
        if f.cwd:
            return layout.slug_of(f.cwd)
    return None


def choose(
    files: list[ArchivedFile], *, every_copy: bool = False
) -> tuple[list[Item], list[ArchivedFile]]:
    """The newest version of each file and where it goes; the copies left out.

    Two archived files may claim one place (a session seen at two paths, two
    files that both say they are the session): the one with more bytes (then
    the newer) takes it, and a copy with the same bytes is not needed. A copy
    that differs is left out, unless ``every_copy``: then it keeps its own
    name beside the winner (``Item.wanted`` says where it would have gone).
    """
    ranked = sorted(
        (f for f in files if f.latest is not None and f.role != layout.HISTORY),
        key=lambda f: (
            -(f.latest.size if f.latest else 0),
            -(f.latest.updated_at if f.latest else 0),
            f.id,
        ),
    )
    taken: dict[str, str] = {}  # rel -> sha256 written there
    items: list[Item] = []
    left: list[ArchivedFile] = []
    for f in ranked:
        assert f.latest is not None
        rel = f.rel if layout.safe_rel(f.rel) else Path(f.path).name
        wanted = None
        if rel in taken:
            if taken[rel] == f.latest.sha256:
                continue  # the same bytes seen at another path
            if not every_copy:
                left.append(f)
                continue
            wanted, rel = rel, _beside(rel, f, taken)
        taken[rel] = f.latest.sha256
        items.append(Item(f, f.latest, rel, wanted))
    return items, left


def _beside(rel: str, f: ArchivedFile, taken: dict[str, str]) -> str:
    folder = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
    name = Path(f.path).name if layout.safe_name(Path(f.path).name) else f"file-{f.id}"
    candidate = f"{folder}{name}"
    if candidate in taken:
        stem, dot, suffix = name.partition(".")
        candidate = f"{folder}{stem}.{f.id}{dot}{suffix}"
    return candidate


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 folders (existing ones stay as they are)."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        if not folder.is_dir():
            raise BadInput(f"cannot restore into {folder}: it is not a folder")


def restore_session(
    archive: TranscriptArchive,
    claude_session: str,
    *,
    to: Path | None = None,
    env: Mapping[str, str] | None = None,
    force: bool = False,
    every_copy: bool = False,
) -> RestoreReport:
    """Write a session's archived files back (see the module docstring).

    Raises:
        NotFound: the archive holds no such session.
        BadInput: no place to restore to, a target that is not a folder, or an
            existing file that differs (without ``force``); nothing was written.
        ChunkDamaged: the archive's copy is damaged; nothing was written.
    """
    files = [f for f in archive.session_files(claude_session) if f.role != layout.HISTORY]
    if not files:
        raise NotFound(f"the archive holds no files of session {claude_session}")
    if to is None:
        folder = project_folder(files)
        if folder is None:
            raise BadInput(
                f"the archive does not know session {claude_session}'s project folder; "
                "give one with --to DIR"
            )
        target = claude_dir(os.environ if env is None else env) / "projects" / folder
    else:
        target = Path(to).expanduser()
    target = Path(os.path.abspath(target))
    if target.exists() and not target.is_dir():
        raise BadInput(f"cannot restore into {target}: it is not a folder")
    items, left = choose(files, every_copy=every_copy)
    report = RestoreReport(
        claude_session, str(target),
        renamed=[(i.rel, i.wanted) for i in items if i.wanted],
        left_out=[(f.path, f.latest.size if f.latest else 0) for f in left],
    )  # fmt: skip
    report.cwd = next((f.cwd for f in files if f.role == layout.MAIN and f.cwd), None)
    todo: list[tuple[Item, Path]] = []
    for item in items:
        dest = target / item.rel
        if dest.is_symlink() or dest.exists():
            if dest.is_file() and not dest.is_symlink() and _sha256(dest) == item.version.sha256:
                report.identical.append(item.rel)
                continue
            if not dest.is_file() or dest.is_symlink():
                raise BadInput(
                    f"cannot restore {dest}: something else is there; nothing was written"
                )
            if not force:
                raise BadInput(
                    f"{dest} exists and differs from the archived copy (use --force to replace "
                    "it); nothing was written"
                )
        todo.append((item, dest))
    temps: list[tuple[Path, Path]] = []
    try:
        for item, dest in todo:
            _make_dirs(dest.parent)
            tmp = dest.with_name(f".{dest.name}.restore-{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            temps.append((tmp, dest))
            with os.fdopen(fd, "wb") as fh:
                for piece in archive.iter_version(item.version):  # checks every byte
                    fh.write(piece)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        _discard(temps)
        raise BadInput(
            f"cannot restore into {target}: {exc.strerror or exc}; nothing was written"
        ) from None
    except BaseException:  # a damaged chunk (ChunkDamaged), a missing key, an interrupt
        _discard(temps)
        raise
    done = 0
    try:
        for tmp, dest in temps:
            os.replace(tmp, dest)  # each file whole: the old bytes or the archived ones
            done += 1
    except OSError as exc:
        _discard(temps[done:])
        raise BadInput(
            f"cannot restore {temps[done][1]}: {exc.strerror or exc}; {done} of {len(temps)} "
            "file(s) were put back"
        ) from None
    for parent in {dest.parent for _, dest in temps}:
        with contextlib.suppress(OSError):
            fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    report.written = [(i.rel, i.version.size, i.version.sha256) for i, _ in todo]
    return report


def _discard(temps: list[tuple[Path, Path]]) -> None:
    for tmp, _ in temps:
        with contextlib.suppress(OSError):
            tmp.unlink()
