"""Import benchmark: the 3 MB Claude Code sample (1,512 lines + 2 subagent files).

Cases, each run ``--repeat`` times (default 5) on a fresh data dir, median reported:

- import: a first import of the session (parse, fold, map, one write transaction).
- re-import, unchanged: the ledger says nothing changed; no file is read.
- append 10%: the last 10% of the main transcript appended, then imported.
- raw baseline, in the same run, on the same files: ``json.loads`` of every line
  (the least any importer has to do).
- archive size (issue 13): every transcript file of the shared fixture sets
  (``/work/shared/fixtures/claude-code``, else ``tests/fixtures/claude-code``)
  imported and archived; archive bytes (compressed, sealed chunks) per MB of
  transcript, beside zlib of each whole file (the floor of a per-file
  compressor). Target: <= 0.3.
- archive append: the 3 MB sample grows by one turn (~10 KB) and is kept
  again (what the Stop hook pays for the archive), beside the floor of
  hashing the file and compressing the new bytes.

Target (issue 6): the 3 MB sample in well under 5 s. Writes
``bench/results/import.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import render_table
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.importers.claude_code import ClaudeCodeImporter

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "claude-code" / "spotter_v2.1.38-39"
MAIN = SAMPLE / "4d5611e5-241a-462a-8d15-5122611a9569.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "import.json"


def _files() -> list[Path]:
    return [MAIN, *sorted((SAMPLE / MAIN.stem / "subagents").glob("*.jsonl"))]


def raw_parse() -> int:
    n = 0
    for path in _files():
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
                n += 1
    return n


def _setup(root: Path, fraction: float = 1.0) -> tuple[Path, bytes]:
    src = root / "projects"
    src.mkdir()
    shutil.copytree(SAMPLE / MAIN.stem, src / MAIN.stem)
    lines = MAIN.read_bytes().splitlines(keepends=True)
    cut = int(len(lines) * fraction)
    (src / MAIN.name).write_bytes(b"".join(lines[:cut]))
    return src, b"".join(lines[cut:])


def _coordinator(root: Path) -> MemoryCoordinator:
    data = root / "data"
    data.mkdir()
    return MemoryCoordinator.open(Config.load(data, env={}, redis_enabled=False), use_redis=False)


def case_import() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        src, _ = _setup(Path(tmp))
        with _coordinator(Path(tmp)) as c:
            started = time.perf_counter()
            ClaudeCodeImporter(c).run([src])
            return time.perf_counter() - started


def case_reimport() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        src, _ = _setup(Path(tmp))
        with _coordinator(Path(tmp)) as c:
            importer = ClaudeCodeImporter(c)
            importer.run([src])
            started = time.perf_counter()
            importer.run([src])
            return time.perf_counter() - started


def case_append() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        src, rest = _setup(Path(tmp), 0.9)
        with _coordinator(Path(tmp)) as c:
            importer = ClaudeCodeImporter(c)
            importer.run([src])
            with open(src / MAIN.name, "ab") as fh:
                fh.write(rest)
            started = time.perf_counter()
            importer.run([src])
            return time.perf_counter() - started


SHARED = Path("/work/shared/fixtures/claude-code")


def _fixture_sets() -> Path:
    return SHARED if SHARED.is_dir() else ROOT / "tests" / "fixtures" / "claude-code"


def archive_size() -> dict[str, Any]:
    """Archive bytes per transcript byte over every fixture set, and the zlib floor."""
    import zlib

    from claude_tui.core.archive.store import TranscriptArchive

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(_fixture_sets(), src, ignore=shutil.ignore_patterns("LICENSE*", "*.md"))
        files = sorted(p for p in src.rglob("*") if p.is_file())
        plain = sum(p.stat().st_size for p in files)
        floor = sum(len(zlib.compress(p.read_bytes(), 6)) for p in files)
        with _coordinator(Path(tmp)) as c:
            ClaudeCodeImporter(c).run([src])
            stats = TranscriptArchive(c).stats()
    return {
        "files": len(files), "transcript_bytes": plain, "archive_bytes": stats["stored_bytes"],
        "archive_per_mb": stats["stored_bytes"] / plain, "zlib_floor_per_mb": floor / plain,
        "target_per_mb": 0.3,
    }  # fmt: skip


def case_archive_append() -> float:
    """Keeping the 3 MB sample again after one turn (~10 KB) was appended to it."""
    from claude_tui.core.archive.store import TranscriptArchive

    with tempfile.TemporaryDirectory() as tmp:
        src, _ = _setup(Path(tmp), 1.0)
        turn = MAIN.read_bytes()[-10_000:]
        with _coordinator(Path(tmp)) as c:
            archive = TranscriptArchive(c)
            files = [src / MAIN.name]
            archive.keep_session(MAIN.stem, files)
            with open(files[0], "ab") as fh:
                fh.write(turn)
            started = time.perf_counter()
            archive.keep_session(MAIN.stem, files)
            return time.perf_counter() - started


def case_archive_append_floor() -> float:
    """The least a keep after an append does: hash the whole file, compress the new bytes."""
    import hashlib
    import zlib

    data = MAIN.read_bytes()
    started = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    zlib.compress(data[-10_000:], 6)
    return time.perf_counter() - started


def median(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        samples.append(value if isinstance(value, float) else time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    size = sum(p.stat().st_size for p in _files())
    lines = raw_parse()
    raw = median(lambda: float(_timed(raw_parse)), args.repeat)
    results = [
        {"measure": "import (first)", "seconds": median(case_import, args.repeat), "raw": raw},
        {"measure": "re-import, unchanged", "seconds": median(case_reimport, args.repeat),
         "raw": None},
        {"measure": "append 10%, import", "seconds": median(case_append, args.repeat),
         "raw": raw * 0.1},
        {"measure": "archive: keep after a 10 KB append",
         "seconds": median(case_archive_append, args.repeat),
         "raw": median(case_archive_append_floor, args.repeat)},
    ]  # fmt: skip
    rows = [
        {"measure": r["measure"], "seconds": f"{r['seconds'] * 1000:.1f} ms",
         "raw": "-" if r["raw"] is None else f"{r['raw'] * 1000:.1f} ms",
         "ratio": "-" if not r["raw"] else f"{r['seconds'] / r['raw']:.1f}x"}
        for r in results
    ]  # fmt: skip
    print(f"{size / 1e6:.1f} MB, {lines:,} lines in {len(_files())} files; median of {args.repeat}")
    print(
        render_table(
            {
                "measure": "MEASURE",
                "seconds": "IMPORTER",
                "raw": "RAW json.loads",
                "ratio": "RATIO",
            },
            rows,
            [0] * len(rows),
        )
    )
    size_report = archive_size()
    print()
    print(
        f"archive size over {size_report['files']} fixture files "
        f"({size_report['transcript_bytes'] / 1e6:.1f} MB, {_fixture_sets()}):"
    )
    headers = {"measure": "MEASURE", "per_mb": "BYTES PER TRANSCRIPT MB", "floor": "ZLIB FLOOR",
               "target": "TARGET"}  # fmt: skip
    size_row = {
        "measure": "archive (compressed + sealed chunks)",
        "per_mb": f"{size_report['archive_per_mb']:.3f} MB",
        "floor": f"{size_report['zlib_floor_per_mb']:.3f} MB",
        "target": "<= 0.3 MB",
    }
    print(render_table(headers, [size_row], [0]))
    report = {"repeat": args.repeat, "bytes": size, "lines": lines, "results": results,
              "archive_size": size_report}  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
