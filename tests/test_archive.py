"""The transcript archive (issue 13): byte-for-byte copies of Claude Code's files.

Real transcripts (the shared fixture sets, every layout Claude Code has used),
the real importer, real SQLite, real backups, the real ``claude-tui`` CLI in
subprocesses, and the real Claude Code CLI for ``claude --resume``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.archive import codec, export, layout, purge
from claude_tui.core.archive.check import archive_check
from claude_tui.core.archive.restore import restore_session
from claude_tui.core.archive.store import TranscriptArchive
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.backups import BackupService
from claude_tui.core.errors import BadInput
from claude_tui.core.importers.claude_code import ClaudeCodeImporter
from claude_tui.core.transcripts.conversation import Conversation, TranscriptFiles
from tests.claude_code_cli import claude_env, find_claude
from tests.cli_run import run_in_process
from tests.conftest import ROOT, cli_env

# Copies of the shared fixtures (licences kept): the first batch and every other layout.
FIXTURES = ROOT / "tests" / "fixtures" / "claude-code"
MORE = ROOT / "tests" / "fixtures" / "claude-code-more"
SPOTTER = FIXTURES / "spotter_v2.1.38-39"
LONG_ID = "4d5611e5-241a-462a-8d15-5122611a9569"
AGTRACE = MORE / "agtrace_v2.0.28"
WARMUP_ID = "7f2abd2d-7cfc-4447-9ddd-3ca8d14e02e9"
SLUG = "-home-dev-demo"  # a project folder as Claude Code names it
BLOCK = codec.BLOCK
NOT_FOUND = "No conversation found with session ID"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_c(data: Path) -> MemoryCoordinator:
    return MemoryCoordinator.open(Config.load(data, env={}, redis_enabled=False), use_redis=False)


def tui(data: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = cli_env(data, None)
    if home is not None:
        env = {**env, "HOME": str(home)}
        env.pop("CLAUDE_CONFIG_DIR", None)
    return run_in_process(args, env, cwd=ROOT)  # main(argv) here: tests/cli_run.py


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` by relative path, with its sha256."""
    return {
        p.relative_to(root).as_posix(): sha(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def build_projects_folder(home: Path) -> Path:
    """A Claude Code folder as 2.1.x lays it out, from real transcripts, plus the older layout."""
    project = home / ".claude" / "projects" / SLUG
    folder = project / LONG_ID
    shutil.copytree(SPOTTER / LONG_ID, folder)
    shutil.copy(SPOTTER / f"{LONG_ID}.jsonl", project / f"{LONG_ID}.jsonl")
    meta = {"agentType": "Explore", "description": "Explore transcript rendering", "toolUseId": "t"}
    (folder / "subagents" / "agent-a2898e3.meta.json").write_text(json.dumps(meta))
    (folder / "tool-results").mkdir()
    (folder / "tool-results" / "toolu_01abc.txt").write_bytes(os.urandom(3000) + b"\n")
    (folder / "workflows" / "run-1").mkdir(parents=True)
    (folder / "workflows" / "run-1" / "state.json").write_text('{"step": 3}\n')
    # The layout before 2.1.2: a subagent file beside its session's transcript.
    shutil.copy(AGTRACE / "claude_session.jsonl", project / f"{WARMUP_ID}.jsonl")
    shutil.copy(AGTRACE / "claude_agent.jsonl", project / "agent-warmup01.jsonl")
    history = b"".join(
        json.dumps({"display": f"prompt {i}", "timestamp": i, "project": "/home/dev/demo"}).encode()
        + b"\n"
        for i in range(40)
    )
    (home / ".claude" / "history.jsonl").write_bytes(history)
    for path in home.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    return project


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every fixture set and a projects folder imported (so archived), then deleted."""
    root = tmp_path_factory.mktemp("archived")
    home = root / "home"
    project = build_projects_folder(home)
    elsewhere = root / "elsewhere"
    for batch in (FIXTURES, MORE):
        shutil.copytree(batch, elsewhere, ignore=shutil.ignore_patterns("LICENSE*", "*.md"),
                        dirs_exist_ok=True)  # fmt: skip
    for path in elsewhere.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    data = root / "data"
    with open_c(data) as c:
        ClaudeCodeImporter(c).run([home / ".claude" / "projects", elsewhere])
    before = {"project": tree(project), "elsewhere": tree(elsewhere)}
    history = (home / ".claude" / "history.jsonl").read_bytes()
    shutil.rmtree(project)
    shutil.rmtree(elsewhere)
    (home / ".claude" / "history.jsonl").unlink()
    return {"root": root, "home": home, "project": project, "data": data, "before": before,
            "history": history}  # fmt: skip


# -- round trips -----------------------------------------------------------------------------------


def test_every_fixture_layout_round_trips_byte_for_byte(archived: dict[str, Any]) -> None:
    data, home, project = archived["data"], archived["home"], archived["project"]
    # The 2.1.x projects folder: back to the same place (HOME's, via the slug), same layout.
    result = tui(data, "transcripts", "restore", LONG_ID, home=home)
    assert result.returncode == 0, result.stderr
    assert f"restored 6 file(s) to {project}" in result.stdout
    result = tui(data, "transcripts", "restore", WARMUP_ID[:8], home=home)  # a unique prefix
    assert result.returncode == 0, result.stderr
    assert tree(project) == archived["before"]["project"]
    assert (project / f"{LONG_ID}.jsonl").stat().st_mode & 0o777 == 0o600
    # Copies seen elsewhere (any name): every byte back, under the names --resume looks for.
    restored = archived["root"] / "restored"
    with open_c(data) as c:
        archive = TranscriptArchive(c)
        sessions = {s.claude_session for s in archive.sessions()}
        for sid in sessions - {LONG_ID, WARMUP_ID}:
            report = restore_session(archive, sid, to=restored / sid, every_copy=True)
            assert report.written and not report.identical
            assert (restored / sid / f"{sid}.jsonl").is_file()
        history = archive.session_files(layout.HISTORY_SESSION)
        assert [f.rel for f in history] == ["history.jsonl"]
        assert archive.read_version(history[0].versions[-1]) == archived["history"]
        stats = archive.stats()
    elsewhere = archived["before"]["elsewhere"]
    # The spotter and agtrace sessions were imported from both places: restored once above.
    spotter_and_agtrace = {
        h for rel, h in elsewhere.items() if rel.startswith(("spotter_v2.1.38-39/4d", "agtrace"))
    }
    expected = Counter(h for h in elsewhere.values() if h not in spotter_and_agtrace)
    assert Counter(tree(restored).values()) == expected
    # The same bytes seen at two paths are stored once (content-addressed chunks).
    assert stats["chunk_bytes"] < stats["kept_bytes"]
    assert stats["stored_bytes"] / stats["kept_bytes"] < 0.3


def test_show_list_and_export(archived: dict[str, Any], tmp_path: Path) -> None:
    data, home = archived["data"], archived["home"]
    shown = tui(data, "transcripts", "show", f"cc_{LONG_ID}", "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    files = {f["rel"]: f for f in json.loads(shown.stdout)["files"]}
    main = f"{LONG_ID}.jsonl"
    assert files[main]["versions"][-1]["sha256"] == archived["before"]["project"][main]
    assert files[main]["versions"][-1]["size"] == (SPOTTER / main).stat().st_size
    assert {f["role"] for f in files.values()} >= {"main", "subagent", "agent-meta", "tool-result"}
    assert f"{LONG_ID}/workflows/run-1/state.json" in files
    text = tui(data, "transcripts", "show", LONG_ID, home=home).stdout
    assert archived["before"]["project"][main] in text and "3,158,801" in text
    listed = json.loads(tui(data, "transcripts", "list", "--json", home=home).stdout)
    ids = {s["session"] for s in listed["sessions"]}
    assert LONG_ID in ids and WARMUP_ID in ids and "" not in ids

    out = tmp_path / "long.html"
    done = tui(data, "transcripts", "export", LONG_ID, "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert out.stat().st_mode & 0o777 == 0o600
    assert page.startswith("<!doctype html>") and page.count('<details class="thinking">') >= 14
    assert "Subagent a2898e3: Explore" in page  # nested under the Task call that spawned it
    assert "Compaction summariser acompact-e1f845 (5 turns)" in page  # under its boundary
    assert "not linked to a Task call" not in page
    assert "wrote " in done.stdout and "2 subagent thread(s)" in done.stdout
    assert "<script" not in page
    md = tui(data, "transcripts", "export", "fe5e1c67", "--format", "md").stdout
    assert md.startswith("# Empty Repo Setup: CLAUDE.md Foundation Created")
    assert md.count("<details><summary>Subagent ") == 5  # the 5 embedded Task sidechains
    assert "<details><summary>Tool call: TodoWrite" in md


def test_export_escapes_what_the_transcript_says() -> None:
    records = [
        {"type": "user", "uuid": "a", "message": {"role": "user",
         "content": "<script>alert(1)</script> and </details>"}},
        {"type": "assistant", "uuid": "x", "parentUuid": "a",
         "message": {"model": "m", "content": [{"type": "text", "text": "a first try"}]}},
        {"type": "assistant", "uuid": "b", "parentUuid": "a", "message": {"role": "assistant",
         "model": "m", "content": [{"type": "thinking", "thinking": "hmm"},
                                   {"type": "text", "text": "```html\n<b>kept</b>\n```"}]}},
        {"type": "assistant", "uuid": "c", "parentUuid": "b",
         "message": {"model": "<synthetic>", "content": [{"type": "text", "text": "No response"}]}},
        {"type": "assistant", "uuid": "d", "parentUuid": "c", "message": {"model": "m", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "false"}}]}},
        {"type": "user", "uuid": "e", "parentUuid": "d", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
             "content": "exit 1"}]}},
        {"type": "system", "subtype": "compact_boundary", "uuid": "f", "parentUuid": None,
         "logicalParentUuid": "e", "content": "Conversation compacted",
         "compactMetadata": {"trigger": "manual", "preTokens": 1234}},
        {"type": "user", "uuid": "g", "parentUuid": "f", "isCompactSummary": True,
         "message": {"content": "What came before: <b>bold</b>"}},
    ]  # fmt: skip
    data = b"\n".join(json.dumps(r).encode() for r in records) + b"\n{broken\n"
    conv = Conversation(TranscriptFiles(data, "escapes.jsonl"))
    kinds = [t.kind for t in conv.main.every_turn()]
    assert kinds == ["prompt", "text", "thinking", "text", "meta", "tool", "compaction",
                     "summary", "malformed"]  # fmt: skip
    # The branch --resume continues: the last message back through the boundary; "x" is off it.
    assert conv.structure().branches == {
        1: "compacted", 2: "off", 3: "compacted", 4: "compacted", 5: "compacted", 6: "compacted",
        7: "live", 8: "live",
    }  # fmt: skip
    page = export.render(conv, "html").text
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>" not in page
    assert page.count('<details class="thinking">') == 1
    assert '<details class="tool error"><summary>Tool call: Bash (error)' in page
    assert "<h3>Compacted (manual, 1,234 tokens before)" in page
    assert '<details class="error"><summary>Malformed line 9' in page
    done = export.render(conv, "md")
    md = done.text
    assert "&lt;script>" in md and "&lt;/details>" in md  # cannot close the folds
    assert "<b>kept</b>" in md  # code stays code
    assert "<details><summary>Context (written by Claude Code, not the model)" in md
    assert "false\n\n── error ──\nexit 1" in md  # the call's input, then its result
    assert "<details><summary>Summary of earlier turns" in md
    assert md.count("off the branch --resume continues") == 1
    assert (done.turns, done.threads) == (9, 0)
    conv.close()


# -- incremental appends and versions --------------------------------------------------------------


def _chunks(c: MemoryCoordinator) -> dict[str, int]:
    return {cid: size for cid, size in c.store.rows("SELECT id, size FROM archive_chunks")}


def test_appends_store_only_the_new_bytes(tmp_path: Path) -> None:
    real = (SPOTTER / f"{LONG_ID}.jsonl").read_bytes()
    path = tmp_path / "projects" / SLUG / f"{LONG_ID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(real[:100_000])
    with open_c(tmp_path / "data") as c:
        archive = TranscriptArchive(c)
        [first] = archive.keep_session(LONG_ID, [path], history=False)
        assert (first.status, first.version, first.taken) == ("new", 1, 100_000)
        before = _chunks(c)
        with open(path, "ab") as fh:
            fh.write(real[100_000:107_000])
        [kept] = archive.keep_session(LONG_ID, [path], history=False)
        assert (kept.status, kept.version, kept.taken) == ("appended", 1, 7_000)
        added = {k: v for k, v in _chunks(c).items() if k not in before}
        assert list(added.values()) == [7_000]  # only the new bytes, in one new chunk
        assert archive.keep_session(LONG_ID, [path], history=False)[0].status == "unchanged"
        # Appends that complete a block: its loose parts become one whole-block chunk.
        with open(path, "ab") as fh:
            fh.write(real[107_000:600_000])
        [kept] = archive.keep_session(LONG_ID, [path], history=False)
        assert (kept.status, kept.taken) == ("appended", 493_000)
        sizes = sorted(_chunks(c).values())
        assert sizes == sorted([BLOCK, BLOCK, 600_000 - 2 * BLOCK])  # nothing left over
        [version] = archive.session_files(LONG_ID)[0].versions
        assert (version.n, version.size, version.sha256) == (1, 600_000, sha(real[:600_000]))
        assert archive.read_version(version) == real[:600_000]
        # The same file taken in at once is stored as the same chunks.
        whole = tmp_path / "copy" / f"{LONG_ID}.jsonl"
        whole.parent.mkdir()
        whole.write_bytes(real[:600_000])
        [copy] = archive.keep_session(LONG_ID, [whole], history=False)
        assert (copy.status, copy.stored) == ("new", 0)


def test_truncated_and_rewritten_files_get_new_versions(tmp_path: Path) -> None:
    real = (SPOTTER / f"{LONG_ID}.jsonl").read_bytes()[:700_000]
    path = tmp_path / f"{LONG_ID}.jsonl"
    path.write_bytes(real)
    with open_c(tmp_path / "data") as c:
        archive = TranscriptArchive(c)
        archive.keep_session(LONG_ID, [path], history=False)
        path.write_bytes(real[:300_000])  # truncated: a prefix of what was kept
        [kept] = archive.keep_session(LONG_ID, [path], history=False)
        assert (kept.status, kept.version) == ("truncated", 2)
        assert kept.stored < 20_000  # its first whole block is shared with version 1
        changed = bytearray(real[:300_000])
        changed[10] ^= 1  # same length, one bit different: rewritten
        path.write_bytes(bytes(changed))
        [kept] = archive.keep_session(LONG_ID, [path], history=False)
        assert (kept.status, kept.version) == ("rewritten", 3)
        versions = archive.session_files(LONG_ID)[0].versions
        assert [(v.n, v.reason, v.size) for v in versions] == [
            (1, "new", 700_000), (2, "truncated", 300_000), (3, "rewritten", 300_000),
        ]  # fmt: skip
        assert [archive.read_version(v) for v in versions] == [
            real, real[:300_000], bytes(changed),
        ]  # fmt: skip
        assert archive_check(c.store.conn) is None


def test_history_jsonl_is_taken_in_incrementally(tmp_path: Path) -> None:
    history = tmp_path / ".claude" / "history.jsonl"
    history.parent.mkdir()
    history.write_bytes(b'{"display": "one"}\n')
    with open_c(tmp_path / "data") as c:
        archive = TranscriptArchive(c)
        assert archive.keep_history(history, interval=0).status == "new"
        with open(history, "ab") as fh:
            fh.write(b'{"display": "two"}\n')
        assert archive.keep_history(history) is None  # looked at less than a minute ago
        kept = archive.keep_history(history, interval=0)
        assert kept is not None and (kept.status, kept.taken) == ("appended", 19)
        [f] = archive.session_files(layout.HISTORY_SESSION)
        assert archive.read_version(f.versions[-1]) == history.read_bytes()


# -- backups ---------------------------------------------------------------------------------------


def test_backups_carry_the_archive_and_restore_it(tmp_path: Path) -> None:
    real = (SPOTTER / f"{LONG_ID}.jsonl").read_bytes()
    src = tmp_path / "projects" / SLUG
    shutil.copytree(SPOTTER / LONG_ID, src / LONG_ID)
    main = src / f"{LONG_ID}.jsonl"
    main.write_bytes(real[:1_000_000])
    data = tmp_path / "data"
    config = Config.load(data, env={}, redis_enabled=False)
    with open_c(data) as c:
        backups = BackupService(config, c)
        ClaudeCodeImporter(c).run([src])
        assert backups.run("full").status == "ok"
        main.write_bytes(real[:1_100_000])
        ClaudeCodeImporter(c).run([src])
        incremental = backups.run("incremental")
        assert incremental.status == "ok" and incremental.kind == "incremental"
        main.write_bytes(real)
        ClaudeCodeImporter(c).run([src])
        assert backups.run("differential").kind == "differential"
        assert all(problem is None for _, problem in backups.verify())
    for suffix in ("", "-wal", "-shm"):  # the database is lost; the backups and the key are not
        Path(f"{config.db_path}{suffix}").unlink(missing_ok=True)
    done = tui(data, "backup", "restore", "--yes")
    assert done.returncode == 0, done.stderr
    shutil.rmtree(src)
    out = tmp_path / "out"
    with open_c(data) as c:
        restore_session(TranscriptArchive(c), LONG_ID, to=out)
    assert (out / f"{LONG_ID}.jsonl").read_bytes() == real
    assert tree(out / LONG_ID) == tree(SPOTTER / LONG_ID)


def test_the_backup_check_finds_a_missing_chunk(tmp_path: Path) -> None:
    path = tmp_path / f"{LONG_ID}.jsonl"
    path.write_bytes((SPOTTER / f"{LONG_ID}.jsonl").read_bytes()[:600_000])
    with open_c(tmp_path / "data") as c:
        TranscriptArchive(c).keep_session(LONG_ID, [path], history=False)
        db = c.store.path
    conn = sqlite3.connect(db)
    try:
        assert archive_check(conn) is None
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DELETE FROM archive_chunks WHERE size = ?", (BLOCK,))
        conn.commit()
        assert archive_check(conn) == "has 2 part(s) without their chunk"
    finally:
        conn.close()


# -- the real Claude Code CLI ----------------------------------------------------------------------


def test_claude_resume_finds_a_restored_session(tmp_path: Path) -> None:
    claude = find_claude()
    home = tmp_path / "home"
    project = (tmp_path / "my project").resolve()
    project.mkdir(parents=True)
    env = claude_env(home)

    def resume(sid: str) -> str:
        done = subprocess.run(
            [str(claude), "--resume", sid, "-p", "x"], env=env, cwd=project,
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return done.stdout + done.stderr

    subprocess.run(
        [str(claude), "-p", "hello"], env=env, cwd=project, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    [transcript] = (home / ".claude" / "projects").glob("*/*.jsonl")
    assert transcript.parent.name == layout.slug_of(str(project))
    sid, original = transcript.stem, transcript.read_bytes()
    data = tmp_path / "data"
    imported = tui(data, "import", "claude-code", home=home)
    assert imported.returncode == 0, imported.stderr
    transcript.unlink()  # what Claude Code's cleanup does after cleanupPeriodDays
    assert f"{NOT_FOUND}: {sid}" in resume(sid)
    done = tui(data, "transcripts", "restore", sid, home=home)
    assert done.returncode == 0, done.stderr
    assert f"claude --resume {sid}" in done.stdout
    assert transcript.read_bytes() == original
    assert NOT_FOUND not in resume(sid)


# -- bad input -------------------------------------------------------------------------------------


def _without_dac_override() -> list[str]:
    """A prefix that makes root obey file modes (so a 0000 file is unreadable here too)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


KEEP_SCRIPT = """
import sys
from pathlib import Path
from claude_tui.core.archive.store import TranscriptArchive
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput
config = Config.load(sys.argv[1], env={}, redis_enabled=False)
with MemoryCoordinator.open(config, use_redis=False) as c:
    try:
        kept = TranscriptArchive(c).keep_session(sys.argv[2], [Path(p) for p in sys.argv[3:]])
        print(sorted((Path(k.path).name, k.status) for k in kept))
    except BadInput as exc:
        print(exc.message)
        sys.exit(exc.exit_code)
"""


def test_an_unreadable_file_leaves_the_session_archive_as_it_was(tmp_path: Path) -> None:
    project = tmp_path / "projects" / SLUG
    shutil.copytree(SPOTTER / LONG_ID, project / LONG_ID)
    main = project / f"{LONG_ID}.jsonl"
    shutil.copy(SPOTTER / f"{LONG_ID}.jsonl", main)
    agent = project / LONG_ID / "subagents" / "agent-a2898e3.jsonl"
    agent.chmod(0o000)
    data = tmp_path / "data"
    done = subprocess.run(
        [*_without_dac_override(), sys.executable, "-c", KEEP_SCRIPT, str(data), LONG_ID,
         str(main), str(agent)],
        env=cli_env(data, None), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout.strip().splitlines() == [f"cannot read {agent}: Permission denied"]
    with open_c(data) as c:
        assert c.store.scalar("SELECT count(*) FROM archive_files") == 0
        assert c.store.scalar("SELECT count(*) FROM archive_chunks") == 0
    # A tool result we may not read is left out (and said so); the transcripts are kept.
    agent.chmod(0o600)
    (project / LONG_ID / "tool-results").mkdir()
    hidden = project / LONG_ID / "tool-results" / "toolu_1.txt"
    hidden.write_text("output\n")
    hidden.chmod(0o000)
    done = subprocess.run(
        [*_without_dac_override(), sys.executable, "-c", KEEP_SCRIPT, str(data), LONG_ID,
         str(main)],
        env=cli_env(data, None), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(sorted([
        (main.name, "new"), (agent.name, "new"), ("agent-acompact-e1f845.jsonl", "new"),
        (hidden.name, "unreadable"),
    ]))  # fmt: skip


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    project = tmp_path / "projects" / SLUG
    project.mkdir(parents=True)
    # A symlink loop as a transcript, and one inside a session folder (never followed).
    loop = project / f"{LONG_ID}.jsonl"
    os.symlink(project / "other.jsonl", loop)
    os.symlink(loop, project / "other.jsonl")
    big = project / "11111111-2222-3333-4444-555555555555.jsonl"
    record = {"type": "user", "sessionId": big.stem, "uuid": "u1", "cwd": "/home/dev/demo",
              "message": {"role": "user", "content": "y" * (10 * 1024 * 1024)}}  # fmt: skip
    big.write_bytes(json.dumps(record).encode() + b"\n")  # a 10 MB single line
    (project / big.stem / "tool-results").mkdir(parents=True)
    os.symlink(project / big.stem, project / big.stem / "tool-results" / "loop")
    with open_c(data) as c:
        archive = TranscriptArchive(c)
        with pytest.raises(BadInput) as refused:
            archive.keep_session(LONG_ID, [loop])
        assert refused.value.message == f"cannot read {loop}: Too many levels of symbolic links"
        assert archive.session_files(LONG_ID) == []
        kept = archive.keep_session(big.stem, [big], history=False)
        assert [(k.status, k.size) for k in kept] == [("new", big.stat().st_size)]
        [f] = archive.session_files(big.stem)
        assert f.cwd == "/home/dev/demo" and f.project == SLUG
        assert archive.read_version(f.versions[-1]) == big.read_bytes()
        assert len(_chunks(c)) == 3  # the head, the tail, and 39 equal blocks stored once
    # restore: into something that is not a folder; over a file that differs; --force.
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    done = tui(data, "transcripts", "restore", big.stem, "--to", str(not_a_dir))
    assert (done.returncode, done.stderr) == (
        2, f"claude-tui: cannot restore into {not_a_dir}: it is not a folder\n"
    )  # fmt: skip
    target = tmp_path / "target"
    target.mkdir()
    (target / big.name).write_bytes(b"someone else's file\n")
    done = tui(data, "transcripts", "restore", big.stem, "--to", str(target))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "differs from the archived copy (use --force" in done.stderr
    assert (target / big.name).read_bytes() == b"someone else's file\n"
    assert sorted(p.name for p in target.iterdir()) == [big.name]  # no temp file left
    done = tui(data, "transcripts", "restore", big.stem, "--to", str(target), "--force")
    assert done.returncode == 0 and (target / big.name).read_bytes() == big.read_bytes()
    again = tui(data, "transcripts", "restore", big.stem, "--to", str(target))
    assert "restored 0 file(s)" in again.stdout and "1 already there" in again.stdout
    # A folder that is not a projects folder (a .jsonl that is no transcript): nothing kept.
    other = tmp_path / "not-a-projects-folder"
    other.mkdir()
    (other / "notes.jsonl").write_text('{"a": 1}\n')
    done = tui(data, "import", "claude-code", str(other))
    assert "Traceback" not in done.stderr and "notes.jsonl" in done.stdout + done.stderr
    with open_c(data) as c:
        assert (
            c.store.scalar("SELECT count(*) FROM archive_files WHERE path LIKE ?", (f"{other}%",))
            == 0
        )
    for args, code, text in (
        (["show", "nope"], 1, "the archive holds no session 'nope'"),
        (["export", big.stem, "--out", str(tmp_path / "no" / "x.md")], 2, "does not exist"),
        (["export", big.stem, "--format", "pdf"], 2, "invalid choice: 'pdf'"),
    ):
        done = tui(data, "transcripts", *args)
        assert done.returncode == code and len(done.stderr.splitlines()) == 1, done.stderr
        assert text in done.stderr and "Traceback" not in done.stderr


# -- secrets ---------------------------------------------------------------------------------------

ANTHROPIC_KEY = "sk-ant-api03-" + "Qx7vLp2RzT9mWc4Hn8Jd5Kf3Gb6Ys1Ae0Uo" * 2 + "-AbCdEfGhIjKlMn_AA"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Tz3VwQe"


def _unpacked(raw: bytes) -> Iterator[bytes]:
    """``raw`` and whatever it decompresses to (gzip, zlib), one level down."""
    yield raw
    for unpack in (gzip.decompress, zlib.decompress):
        try:
            yield unpack(raw)
        except (OSError, EOFError, zlib.error, ValueError):
            pass


def _everything_stored(data: Path) -> Iterator[tuple[str, bytes]]:
    """Every byte under the data dir: files, their decompressed forms, every database cell."""
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        for form in _unpacked(raw):
            yield str(path), form
            for line in form.splitlines():  # changes files keep BLOBs as base64
                if b'"b64"' in line:
                    for value in json.loads(line).get("r") or []:
                        if isinstance(value, dict) and "b64" in value:
                            yield from (
                                (str(path), f) for f in _unpacked(base64.b64decode(value["b64"]))
                            )
        if raw.startswith(b"SQLite format 3") and not path.name.endswith(("-wal", "-shm")):
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                tables = [
                    r[0]
                    for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                ]
                for table in tables:
                    for row in conn.execute(f'SELECT * FROM "{table}"'):
                        for cell in row:
                            if isinstance(cell, str):
                                cell = cell.encode()
                            if isinstance(cell, bytes):
                                yield from ((f"{path}:{table}", f) for f in _unpacked(cell))
            finally:
                conn.close()


def test_no_secret_is_in_clear_anywhere_under_the_data_dir(tmp_path: Path) -> None:
    sid = "9e8d7c6b-5a49-4838-a726-151413121110"
    project = tmp_path / "projects" / SLUG
    (project / sid / "tool-results").mkdir(parents=True)
    base = {"sessionId": sid, "cwd": "/home/dev/demo", "version": "2.1.39"}
    records = [
        {**base, "type": "user", "uuid": "u1", "message": {"role": "user",
         "content": f"deploy with ANTHROPIC_API_KEY={ANTHROPIC_KEY} please"}},
        {**base, "type": "assistant", "uuid": "a1", "parentUuid": "u1", "message": {
            "role": "assistant", "id": "m1", "model": "claude", "content": [
                {"type": "text", "text": f"Using the key {ANTHROPIC_KEY}."},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {
                    "command": f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET} && ./deploy"}}]}},
        {**base, "type": "user", "uuid": "u2", "parentUuid": "a1", "message": {"role": "user",
         "content": [{"type": "tool_result", "tool_use_id": "t1",
                      "content": f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\ndeployed"}]}},
    ]  # fmt: skip
    main = project / f"{sid}.jsonl"
    main.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    (project / sid / "tool-results" / "t1.txt").write_text(
        f"aws_secret_access_key = {AWS_SECRET}\n"
    )
    data = tmp_path / "data"
    config = Config.load(data, env={}, redis_enabled=False)
    with open_c(data) as c:
        ClaudeCodeImporter(c).run([project])
        backups = BackupService(config, c)
        backups.run("full")
        with open(main, "ab") as fh:
            fh.write(json.dumps({**records[0], "uuid": "u3"}).encode() + b"\n")
        ClaudeCodeImporter(c).run([project])
        assert backups.run("incremental").kind == "incremental"
        assert len(TranscriptArchive(c).session_files(sid)) == 2
    scanned = 0
    for where, stored in _everything_stored(config.data_dir):
        scanned += 1
        for secret in (ANTHROPIC_KEY[13:45], AWS_SECRET[8:]):
            assert secret.encode() not in stored, where
    assert scanned > 50
    # The owner gets them back, byte for byte.
    out = tmp_path / "out"
    with open_c(data) as c:
        restore_session(TranscriptArchive(c), sid, to=out)
    assert tree(out) == tree(project)


# -- the purge warning -----------------------------------------------------------------------------


def test_doctor_and_import_warn_about_claude_codes_purge(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = build_projects_folder(home)
    data = tmp_path / "data"
    imported = tui(data, "import", "claude-code", home=home)
    assert imported.returncode == 0, imported.stderr
    note = [line for line in imported.stderr.splitlines() if "cleanupPeriodDays" in line]
    assert note == [
        "claude-tui: note: Claude Code deletes transcripts after 30 days (cleanupPeriodDays "
        f"unset in {home / '.claude' / 'settings.json'}); the archive holds 2 session(s), "
        "0 of them gone from Claude Code"
    ]
    (project / f"{LONG_ID}.jsonl").unlink()  # purged by Claude Code
    (home / ".claude" / "settings.json").write_text('{"cleanupPeriodDays": 14}')
    report = json.loads(tui(data, "doctor", "--json", home=home).stdout)["transcripts"]
    assert report["purge"]["warn"] and report["purge"]["gone_sessions"] == 1
    text = tui(data, "doctor", home=home).stdout
    line = next(ln for ln in text.splitlines() if ln.startswith("transcripts"))
    assert "WARNING: Claude Code deletes transcripts after 14 days" in line
    assert "2 session(s), 1 of them gone from Claude Code" in line
    (home / ".claude" / "settings.json").write_text('{"cleanupPeriodDays": 365}')
    text = tui(data, "doctor", home=home).stdout
    line = next(ln for ln in text.splitlines() if ln.startswith("transcripts"))
    assert "WARNING" not in line and "keeps transcripts 365 days" in line


async def test_the_app_warns_about_claude_codes_purge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.app_helpers import make_app, settle

    home = tmp_path / "home"
    project = build_projects_folder(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    (home / ".claude" / "settings.json").write_text('{"cleanupPeriodDays": 7}')
    with open_c(tmp_path / "data") as c:
        ClaudeCodeImporter(c).run([project])
        (project / f"{WARMUP_ID}.jsonl").unlink()
        app = make_app(c)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            shown = [n for n in app._notifications if n.title == "Claude Code transcripts"]
            assert len(shown) == 1 and shown[0].severity == "warning"
            assert shown[0].message.startswith("Claude Code deletes transcripts after 7 days")
            assert "2 session(s), 1 of them gone from Claude Code" in shown[0].message


def test_cleanup_days_reads_what_claude_code_reads(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    assert purge.cleanup_days(settings) == (None, None)
    for text, expected in (('{"cleanupPeriodDays": 45}', (45.0, None)), ("{}", (None, None))):
        settings.write_text(text)
        assert purge.cleanup_days(settings) == expected
    settings.write_text('{"cleanupPeriodDays": "soon"}')
    assert purge.cleanup_days(settings)[1] == f"cleanupPeriodDays in {settings} is not a number"
    settings.write_text("{not json")
    assert purge.cleanup_days(settings)[1].startswith(f"cannot read {settings}")


# -- the hooks and key rotation --------------------------------------------------------------------


def test_the_stop_and_pre_compact_hooks_archive_the_transcript(tmp_path: Path) -> None:
    from claude_tui.hooks.command import run

    real = (SPOTTER / f"{LONG_ID}.jsonl").read_bytes()
    project = tmp_path / "projects" / SLUG
    shutil.copytree(SPOTTER / LONG_ID, project / LONG_ID)
    main = project / f"{LONG_ID}.jsonl"
    main.write_bytes(real[:500_000])
    data = tmp_path / "data"
    base = {"session_id": LONG_ID, "transcript_path": str(main), "cwd": str(tmp_path)}

    def hook(event: str) -> None:
        with redirect_stdout(io.StringIO()):
            assert run(event, str(data), io.BytesIO(json.dumps(base).encode())) == 0

    hook("PreCompact")
    with open_c(data) as c:
        files = {f.rel: f for f in TranscriptArchive(c).session_files(LONG_ID)}
        assert files[main.name].latest.size == 500_000  # type: ignore[union-attr]
        assert len(files) == 3  # with the subagent files of the session folder
    with open(main, "ab") as fh:
        fh.write(real[500_000:])
    hook("Stop")
    with open_c(data) as c:
        [mine] = [f for f in TranscriptArchive(c).session_files(LONG_ID) if f.rel == main.name]
        assert [(v.n, v.size, v.sha256) for v in mine.versions] == [(1, len(real), sha(real))]


def test_key_rotation_reseals_the_archive(tmp_path: Path) -> None:
    from claude_tui.core.durability.rotation import rotate_keys

    path = tmp_path / f"{LONG_ID}.jsonl"
    real = (SPOTTER / f"{LONG_ID}.jsonl").read_bytes()[:400_000]
    path.write_bytes(real)
    with open_c(tmp_path / "data") as c:
        TranscriptArchive(c).keep_session(LONG_ID, [path], history=False)
        before = dict(c.store.rows("SELECT id, data FROM archive_chunks"))
        report = rotate_keys(c, drop_old=True)
        assert report.archive_chunks == 2 and report.old_keys_kept == 0
        after = dict(c.store.rows("SELECT id, data FROM archive_chunks"))
        assert set(after) == set(before) and all(after[k] != before[k] for k in after)
    with open_c(tmp_path / "data") as c:  # only the new key left: still opens
        archive = TranscriptArchive(c)
        assert archive.read_version(archive.session_files(LONG_ID)[0].versions[-1]) == real
