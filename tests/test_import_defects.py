"""The importer's defects found on real transcripts (issue 13), each on real data.

The transcripts are public ones (tests/fixtures/claude-code-defects/ATTRIBUTION.md,
and the older set in tests/fixtures/claude-code/) or fresh ones the real Claude
Code CLI writes offline in a temp HOME. Expected values are read from the files
with plain ``json`` (or checked by hand and written out), never with the importer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from claude_tui.cli.import_commands import _session_line
from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.importers.claude_code import (
    NOT_A_TRANSCRIPT,
    ClaudeCodeImporter,
    SessionFiles,
    SessionReport,
)
from tests.claude_code_cli import claude_env, find_claude
from tests.conftest import run_cli
from tests.test_import_claude_code import _snapshot

FIX = Path(__file__).parent / "fixtures" / "claude-code-defects"
MORE = Path(__file__).parent / "fixtures" / "claude-code-more"  # whole files, shared with others
AGTRACE = MORE / "agtrace_v2.0.28"
AG_SESSION, AG_WARMUP = AGTRACE / "claude_session.jsonl", AGTRACE / "claude_agent.jsonl"
AG_SID = "cc_7f2abd2d-7cfc-4447-9ddd-3ca8d14e02e9"
V108 = MORE / "claude-code-viewer_v1.0.108" / "5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl"
V108_SID = "cc_5c0375b4-57a5-4f26-b12d-d022ee4e51b7"
E12 = FIX / "entire_v2.1.7-12" / "excerpt.jsonl"
E12_SID = "cc_86cc3044-7515-43f1-9c25-1444738c64c9"
E29 = FIX / "entire_v2.1.29" / "excerpt.jsonl"
E29_SID = "cc_062a8bdd-4322-4ffa-bc38-3e8b8bfb5a56"
SPOTTER = Path(__file__).parent / "fixtures" / "claude-code" / "spotter_v2.1.38-39"
LONG = SPOTTER / "4d5611e5-241a-462a-8d15-5122611a9569.jsonl"
SUBAGENTS = SPOTTER / LONG.stem / "subagents"
LONG_SID = f"cc_{LONG.stem}"
NEW_TYPES = {"attachment", "api-request", "cost-state", "queue-operation", "last-prompt",
             "atis-latch"}  # fmt: skip


# -- reading the files independently --------------------------------------------------


def per_line(path: Path) -> list[list[dict[str, Any]]]:
    """The records of each line of a file (two written back to back on one line are two)."""
    decoder = json.JSONDecoder()
    out: list[list[dict[str, Any]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        found, at, line = [], 0, line.strip()
        while at < len(line):
            value, at = decoder.raw_decode(line, at)
            found.append(value)
        out.append(found)
    return out


def records(path: Path) -> list[dict[str, Any]]:
    """Every record of a file."""
    return [r for line in per_line(path) for r in line]


def content(r: dict[str, Any]) -> Any:
    message = r.get("message")
    return message.get("content") if isinstance(message, dict) else None


def blocks(r: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    c = content(r)
    return [b for b in c if b.get("type") == kind] if isinstance(c, list) else []


USAGE = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
TOKENS = ("input", "output", "cache_read", "cache_creation")


def usage_by_message(rs: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Usage (USAGE order) per assistant message id, the largest of its lines; no synthetic."""
    found: dict[str, list[int]] = {}
    for r in rs:
        message = r.get("message") or {}
        if r["type"] != "assistant" or message.get("model") == "<synthetic>":
            continue
        usage = message.get("usage") or {}
        old = found.get(message["id"], [0, 0, 0, 0])
        found[message["id"]] = [max(o, usage.get(f, 0)) for o, f in zip(old, USAGE, strict=True)]
    return found


# -- helpers ----------------------------------------------------------------------------


def opened(path: Path) -> MemoryCoordinator:
    path.mkdir(parents=True, exist_ok=True)
    return MemoryCoordinator.open(Config.load(path, env={}, redis_enabled=False), use_redis=False)


def rows(c: MemoryCoordinator) -> dict[str, Any]:
    """The imported rows, without what says which files they came from or when."""
    sessions = []
    for sid, name, status, created, updated, metadata in c.store.rows(
        "SELECT id, name, status, created_at, updated_at, metadata FROM sessions ORDER BY id"
    ):
        meta = json.loads(metadata)
        for key in ("files", "duplicate_records"):
            meta.pop(key, None)
        sessions.append((sid, name, status, created, updated, meta))
    return {**_snapshot(c), "sessions": sessions}


def prompts(c: MemoryCoordinator, sid: str) -> list[str]:
    entries = c.memory.list(session_id=sid, namespace="claude-code/prompts", limit=1000)
    return sorted(e.value["text"] for e in entries)


def agent_keys(c: MemoryCoordinator, sid: str) -> list[str]:
    return sorted(a.id.split(":", 1)[1] for a in c.agents.list(sid))


# -- fresh transcripts from the real Claude Code CLI ---------------------------------------

HOOK = """
import json, sys
event = json.load(sys.stdin)
name = event.get("hook_event_name")
if name == "SessionStart":
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "SessionStart",
                                             "additionalContext": "tabs, never spaces"}}))
elif name == "UserPromptSubmit" and "budget" in event.get("prompt", ""):
    print(json.dumps({"continue": False, "stopReason": "the prompt budget is spent"}))
"""


@dataclass
class Fresh:
    home: Path
    folder: Path  # the project's folder under ~/.claude/projects
    hello: Path  # "hello there": hook context, a <synthetic> "Not logged in" reply
    stopped: Path  # a prompt a UserPromptSubmit hook stopped
    compact: Path  # /compact

    @property
    def telemetry(self) -> list[Path]:
        return sorted((self.home / ".claude" / "telemetry").glob("*.json"))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    claude = find_claude()
    home = tmp_path_factory.mktemp("cc-home")
    project = home / "project"
    (project / ".git").mkdir(parents=True)
    script = home / "hook.py"
    script.write_text(HOOK)
    command = {
        "type": "command",
        "command": f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}",
    }
    settings = {"hooks": {e: [{"matcher": "", "hooks": [command]}]
                          for e in ("SessionStart", "UserPromptSubmit")}}  # fmt: skip
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps(settings))
    ids = {}
    for name, prompt in (("hello", "hello there"), ("stopped", "refactor it, budget allowing"),
                         ("compact", "/compact")):  # fmt: skip
        ids[name] = str(uuid.uuid4())
        done = subprocess.run(
            [str(claude), "-p", prompt, "--session-id", ids[name]], env=claude_env(home),
            cwd=project, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode in (0, 1), (name, done.stdout, done.stderr)
    (folder,) = (home / ".claude" / "projects").iterdir()
    return Fresh(
        home, folder, *(folder / f"{ids[n]}.jsonl" for n in ("hello", "stopped", "compact"))
    )


# -- 1. every file is read; two files of one session merge by record uuid ----------------


def test_1_two_files_claiming_one_session_are_both_read(tmp_path: Path) -> None:
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([AGTRACE])
        assert report.files == 2 and len(report.sessions) == 1 and report.skipped == []
        [merged] = report.merged
        assert sorted(merged.merged) == sorted(str(p) for p in (AG_SESSION, AG_WARMUP))
        meta = c.sessions.get(AG_SID).metadata
        both = records(AG_SESSION) + records(AG_WARMUP)
        assert meta["tool_calls"] == sum(len(blocks(r, "tool_use")) for r in both) == 4
        assert meta["messages"] == len(usage_by_message(both)) == 7
        assert prompts(c, AG_SID) == [  # the session file's two prompts (by hand); not /exit
            "add myapp directory and create myapp/hoge.py which shows result of print(1+1).",
            "cd to myapp and run python hoge.py",
        ]


def test_1_overlapping_checkpoints_merge_by_uuid_and_the_report_says_so(
    tmp_path: Path, data_dir: Path
) -> None:
    lines = V108.read_bytes().splitlines(keepends=True)
    project = tmp_path / "projects" / "-path-to-Demo"
    project.mkdir(parents=True)
    whole = project / V108.name
    shutil.copy(V108, whole)
    early = tmp_path / "checkpoints" / "8c" / "0" / "full.jsonl"  # an earlier copy of it
    early.parent.mkdir(parents=True)
    early.write_bytes(b"".join(lines[:30]))
    copies = sum(1 for r in records(early) if r.get("uuid"))
    with opened(tmp_path / "alone") as c:
        ClaudeCodeImporter(c).run([whole])
        alone = rows(c)
    with opened(tmp_path / "both") as c:
        importer = ClaudeCodeImporter(c)
        first = importer.run([early])
        assert [s.session_id for s in first.sessions] == [V108_SID]  # not "cc_full"
        second = importer.run([early, whole])  # the session's own file turns up later
        assert second.sessions[0].status == "updated"
        assert second.sessions[0].duplicates == copies == 30
        assert rows(c) == alone  # nothing counted twice, nothing lost
        assert sorted(c.sessions.get(V108_SID).metadata["files"]) == sorted(
            [str(early), str(whole)]
        )
    out = run_cli(data_dir, "import", "claude-code", str(early), str(whole), check=True).stdout
    assert "2 file(s), 1 session(s): 1 new" in out
    assert f"{V108_SID}: 2 files claim this session, merged by record uuid (30 record(s)" in out


# -- 2. no session id in the first lines; files that are no transcript ------------------


def test_2_a_session_id_found_deep_in_a_checkpoint(tmp_path: Path) -> None:
    # Checkpoints start with file-history-snapshot records, which name no session:
    # the real ones of two transcripts, then the agtrace session.
    snapshots = [
        line
        for path in (E29, LONG)
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
        if json.loads(line)["type"] == "file-history-snapshot"
    ]
    assert len(snapshots) == 38 + 14 > 50
    checkpoint = tmp_path / "checkpoint" / "full.jsonl"
    checkpoint.parent.mkdir()
    checkpoint.write_text("".join(snapshots) + AG_SESSION.read_text(encoding="utf-8"))
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([checkpoint])
        assert [s.session_id for s in report.sessions] == [AG_SID] and report.skipped == []
        assert [s.id for s in c.sessions.list()] == [AG_SID]  # no invented "cc_full"
        assert c.sessions.get(AG_SID).metadata["prompts"] == 2


def test_2_a_jsonl_file_that_is_no_transcript_is_reported_and_skipped(
    fresh: Fresh, tmp_path: Path, data_dir: Path
) -> None:
    project = tmp_path / "projects" / fresh.folder.name
    project.mkdir(parents=True)
    shutil.copy(fresh.hello, project / fresh.hello.name)
    # Claude Code's own telemetry spool: JSON lines, but no transcript.
    assert fresh.telemetry, "the CLI wrote no telemetry file"
    events = project / "events.jsonl"
    shutil.copy(fresh.telemetry[0], events)
    assert all("sessionId" not in r for r in records(events))
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([project.parent])
        assert [str(s) for s in report.skipped] == [f"{events}: {NOT_A_TRANSCRIPT}"]
        assert [s.id for s in c.sessions.list()] == [f"cc_{fresh.hello.stem}"]
        assert report.files == 1
    result = run_cli(data_dir, "import", "claude-code", str(project.parent), check=True)
    assert f"skipped {events}: {NOT_A_TRANSCRIPT}" in result.stdout
    summary = json.loads(
        run_cli(data_dir, "import", "claude-code", str(events), "--json", check=True).stdout
    )
    assert summary["skipped"] == [f"{events}: {NOT_A_TRANSCRIPT}"] and summary["files"] == 0


# -- 3. a Warmup sidechain no Task call spawned is no agent -------------------------------


def test_3_warmup_sidechains_are_no_agents(tmp_path: Path) -> None:
    (warmup,) = records(AG_WARMUP)[:1]
    assert warmup["isSidechain"] and content(warmup) == "Warmup"
    assert not any(b["name"] == "Task" for r in records(AG_SESSION) for b in blocks(r, "tool_use"))
    with opened(tmp_path / "d") as c:
        ClaudeCodeImporter(c).run([AGTRACE])
        assert agent_keys(c, AG_SID) == ["main"]
        meta = c.sessions.get(AG_SID).metadata
        assert meta["subagents"] == 0
        # Its tokens were spent all the same: the session counts them.
        usage = usage_by_message(records(AG_SESSION) + records(AG_WARMUP))
        assert meta["tokens"]["output"] == sum(u[1] for u in usage.values())
    with opened(tmp_path / "alone") as c:  # the Warmup file on its own: no agent, no title
        ClaudeCodeImporter(c).run([AG_WARMUP])
        assert c.agents.list(AG_SID) == [] and c.sessions.get(AG_SID).name is None


# -- 4. subagent files without their main transcript -----------------------------------


def test_4_subagents_alone_name_the_session_and_invent_no_main_agent(tmp_path: Path) -> None:
    first = records(SUBAGENTS / "agent-a2898e3.jsonl")[0]
    assert first["parentUuid"] is None and first["isSidechain"]
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([SUBAGENTS])
        assert [s.session_id for s in report.sessions] == [LONG_SID]
        session = c.sessions.get(LONG_SID)
        meta = session.metadata
        assert (
            (meta["cwd"], meta["version"], meta["git_branch"])
            == (
                first["cwd"],
                first["version"],
                first["gitBranch"],
            )
            == ("/home/USER/projects/spotter-worktrees/spotter-dov", "2.1.39", "spotter-dov")
        )
        # Named after the subagent's own task (its first message), not left blank.
        words = " ".join(content(first).split())
        assert session.name and words.startswith(session.name[:150]) and len(session.name) > 40
        assert agent_keys(c, LONG_SID) == ["a2898e3"]  # no empty "main", no summariser
        assert meta["subagents"] == 1


# -- 5. <synthetic> records are no messages ------------------------------------------------


def test_5_synthetic_assistant_records_are_no_messages(fresh: Fresh, tmp_path: Path) -> None:
    synthetic = [r for r in records(E12) if (r.get("message") or {}).get("model") == "<synthetic>"]
    assert [b["text"] for r in synthetic for b in blocks(r, "text")] == ["No response requested."]
    with opened(tmp_path / "d") as c:
        ClaudeCodeImporter(c).run([E12, fresh.hello])
        meta = c.sessions.get(E12_SID).metadata
        assert meta["messages"] == len(usage_by_message(records(E12)))
        assert meta["synthetic_messages"] == 1
        assert meta["models"] == ["claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929"]
        # Offline, the real CLI's only reply is Claude Code's own "Not logged in".
        (reply,) = [r for r in records(fresh.hello) if r["type"] == "assistant"]
        assert reply["message"]["model"] == "<synthetic>"
        hello = c.sessions.get(f"cc_{fresh.hello.stem}").metadata
        assert (hello["messages"], hello["synthetic_messages"], hello["models"]) == (0, 1, [])


# -- 6. what is not a prompt; image-only prompts ----------------------------------------------


def test_6_commands_and_hook_stops_are_no_prompts_images_are(fresh: Fresh, tmp_path: Path) -> None:
    stop_line = next(
        r for r in records(fresh.stopped)
        if r["type"] == "user" and str(content(r)).startswith("Operation stopped by hook")
    )  # fmt: skip
    # Before 2.1.3xx the hook's stop was an ordinary user record: the same line, not meta.
    older = tmp_path / "older" / f"{uuid.uuid4()}.jsonl"
    older.parent.mkdir()
    older.write_text(
        "".join(
            json.dumps({k: v for k, v in r.items() if k != "isMeta"} | {"sessionId": older.stem})
            + "\n"
            for r in records(fresh.stopped)
        )
    )
    assert stop_line.get("isMeta") is True
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([AGTRACE, E12, E29, fresh.stopped, fresh.compact, older])
        assert report.malformed == []
        assert prompts(c, f"cc_{fresh.stopped.stem}") == ["refactor it, budget allowing"]
        assert prompts(c, f"cc_{older.stem}") == ["refactor it, budget allowing"]
        compact = c.sessions.get(f"cc_{fresh.compact.stem}")
        assert prompts(c, compact.id) == [] and compact.name is None  # /compact: no title
        assert "/exit" not in prompts(c, AG_SID) and "/exit" not in prompts(c, E12_SID)
        typed = [
            content(r) for r in records(E12)
            if r["type"] == "user" and not r.get("isMeta") and isinstance(content(r), str)
            and not content(r).startswith("<")
        ]  # fmt: skip
        assert prompts(c, E12_SID) == sorted(typed) and len(typed) == 3  # lines 3, 124, 244
        assert c.sessions.get(AG_SID).name == (
            "add myapp directory and create myapp/hoge.py which shows result of print(1+1)."
        )
        got = prompts(c, E29_SID)
        assert "/ide" not in got and "/superpowers:brainstorm" in got  # a plugin's prompt
        image = next(
            e for e in c.memory.list(session_id=E29_SID, namespace="claude-code/prompts")
            if e.value["text"] == "[image]"
        )  # fmt: skip
        assert image.value["images"] == 1
        (line,) = [r for r in records(E29) if r.get("uuid") == image.value["uuid"]]
        assert [b["type"] for b in content(line)] == ["image"]


# -- 7. the session's directory is where Claude Code started --------------------------------


def test_7_cwd_is_the_project_directory_not_the_last_cd(tmp_path: Path) -> None:
    cwds = [r["cwd"] for r in records(AG_SESSION) if r.get("cwd")]
    assert cwds[0] == "/Users/test_user/agent-sample" and cwds[-1].endswith("/myapp")
    # One session continued on a second machine: its projects folder names the cwd there.
    e12_cwds = list(dict.fromkeys(r["cwd"] for r in records(E12) if r.get("cwd")))
    assert e12_cwds == ["/Users/soph/Work/entire/devenv/cli", "/Users/gtrrz-victor/wks/cli"]
    there = tmp_path / "projects" / "-Users-gtrrz-victor-wks-cli" / f"{E12_SID[3:]}.jsonl"
    there.parent.mkdir(parents=True)
    shutil.copy(E12, there)
    with opened(tmp_path / "d") as c:
        ClaudeCodeImporter(c).run([AGTRACE, E12])
        assert c.sessions.get(AG_SID).metadata["cwd"] == cwds[0]
        main = next(a for a in c.agents.list(AG_SID) if a.id.endswith(":main"))
        assert main.memory_context["cwd"] == cwds[0]
        meta = c.sessions.get(E12_SID).metadata
        assert meta["cwd"] == e12_cwds[0] and meta["cwds"] == e12_cwds
    with opened(tmp_path / "d2") as c:
        ClaudeCodeImporter(c).run([there])
        assert c.sessions.get(E12_SID).metadata["cwd"] == e12_cwds[1]


# -- 8. a broken last line; watching; malformed lines named --------------------------------


def test_8_a_broken_last_line_is_taken_once_complete_and_nothing_else_moves(
    tmp_path: Path,
) -> None:
    lines = V108.read_bytes().splitlines(keepends=True)
    target = tmp_path / "p" / V108.name
    target.parent.mkdir()
    target.write_bytes(b"".join(lines[:40]) + lines[40][:100])  # Claude Code mid-write
    with opened(tmp_path / "d") as c:
        importer = ClaudeCodeImporter(c)
        first = importer.run([target])
        assert [str(m) for m in first.malformed] == [
            f"{target}:41: incomplete last line (no newline)"
        ]
        seq, before = c.store.current_seq(), rows(c)
        for _ in range(2):  # later imports: nothing new, nothing "updated", nothing written
            again = importer.run([target])
            assert [s.status for s in again.sessions] == ["unchanged"] and again.lines == 0
            assert again.to_dict()["sessions"]["updated"] == 0
        assert c.store.current_seq() == seq
        os.utime(target)  # touched, the line still half-written
        touched = importer.run([target])
        assert touched.sessions[0].status == "unchanged" and touched.lines == 0
        assert rows(c) == before
        target.write_bytes(b"".join(lines))  # the line completed, and more after it
        done = importer.run([target])
        assert done.sessions[0].status == "updated" and done.lines == len(lines) - 40
        assert done.malformed == []
        followed = rows(c)
    with opened(tmp_path / "whole") as c:
        ClaudeCodeImporter(c).run([V108])
        assert rows(c) == followed


def test_8_watching_a_half_written_line_reports_nothing_until_it_is_complete(
    tmp_path: Path,
) -> None:
    lines = V108.read_bytes().splitlines(keepends=True)
    folder = tmp_path / "p"
    folder.mkdir()
    target = folder / V108.name
    target.write_bytes(b"".join(lines[:40]))
    imports: list[SessionReport] = []
    reports: list[SessionReport] = []
    stop = threading.Event()
    with opened(tmp_path / "d") as c:
        importer = ClaudeCodeImporter(c)
        real = importer.import_session

        def step(files: SessionFiles, *, final: bool = True) -> SessionReport:
            """Claude Code writing while the watch looks: one step per import."""
            one = real(files, final=final)
            imports.append(one)
            if len(imports) == 1:
                with open(target, "ab") as fh:
                    fh.write(lines[40][:100])  # half a line
            elif len(imports) == 2:
                with open(target, "ab") as fh:
                    fh.write(lines[40][100:])  # the rest of it
            else:
                stop.set()
            return one

        importer.import_session = step  # type: ignore[method-assign]
        guard = threading.Timer(60, stop.set)  # never hang the suite
        guard.start()
        try:
            importer.watch([folder], stop=stop, on_report=reports.append, interval=0.01)
        finally:
            guard.cancel()
    assert [(r.status, r.lines) for r in imports] == [("new", 40), ("unchanged", 0),
                                                     ("updated", 1)]  # fmt: skip
    assert [(r.status, r.lines) for r in reports] == [("new", 40), ("updated", 1)]
    assert not re.search(r"\b0 new line", "\n".join(_session_line(r) for r in reports))


def test_8_malformed_lines_are_named_with_file_line_and_reason(tmp_path: Path) -> None:
    lines = V108.read_bytes().splitlines(keepends=True)
    target = tmp_path / "p" / V108.name
    target.parent.mkdir()
    lines[9] = lines[9][:200] + b"\n"  # a line cut short (a crash mid-write), then more
    target.write_bytes(b"".join(lines))
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([target])
        [bad] = report.malformed
        assert str(bad).startswith(f"{target}:10: invalid JSON (")
        shown = _session_line(report.sessions[0])
        assert f"malformed: {target}:10: invalid JSON (" in shown
        assert c.sessions.get(V108_SID).metadata["malformed_lines"] == 1


# -- 9. one wrong-typed field never drops its record ----------------------------------------


def test_9_a_numeric_timestamp_keeps_the_record_and_its_task_call(tmp_path: Path) -> None:
    task_id = "toolu_01QeKwRZRUUqzng7AEEBYiCj"
    lines = E12.read_text(encoding="utf-8").splitlines(keepends=True)
    (at,) = [i for i, line in enumerate(lines) if f'"id":"{task_id}","name":"Task"' in line]
    record = json.loads(lines[at])
    stamp = dt.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
    record["timestamp"] = round(stamp * 1000)  # epoch milliseconds, as some writers do
    lines[at] = json.dumps(record) + "\n"
    target = tmp_path / "p" / "excerpt.jsonl"
    target.parent.mkdir()
    target.write_text("".join(lines))
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([target])
        assert report.malformed == []
        doubled = [n for n, found in enumerate(per_line(E12), 1) if len(found) > 1]
        assert len(doubled) == 2  # upstream lines 115 and 241: two records back to back
        assert sorted(str(m) for m in report.coerced) == sorted(
            [f"{target}:{at + 1}: timestamp: int {record['timestamp']}, read as epoch time"]
            + [f"{target}:{n}: 2 records on one line (each read)" for n in doubled]
        )
        task = c.tasks.get(f"{E12_SID}:task:{task_id}")
        assert task.title == "Explore SilenceUsage pattern"
        assert abs(task.created_at - stamp) < 0.001
        meta = c.sessions.get(E12_SID).metadata
        tool_uses = sum(len(blocks(r, "tool_use")) for r in records(E12))
        assert meta["tool_calls"] == tool_uses


# -- 10. a Task call without its prompt gets a task row -------------------------------------


def test_10_a_task_call_without_prompt_gets_a_task_row(tmp_path: Path) -> None:
    calls = [b for r in records(V108) for b in blocks(r, "tool_use") if b["name"] == "Task"]
    assert len(calls) == 3 and sum("prompt" not in b["input"] for b in calls) == 1
    with opened(tmp_path / "d") as c:
        ClaudeCodeImporter(c).run([V108])
        tasks = {t.id.rsplit(":", 1)[1]: t for t in c.tasks.list(V108_SID) if ":task:" in t.id}
        assert sorted(tasks) == sorted(b["id"] for b in calls)
        refused = tasks["toolu_018t5jce2ZNoGr2ADsHGQife"]
        assert (refused.title, refused.status, refused.agent_id) == (
            "Analyze project structure", "failed", None,
        )  # fmt: skip
        assert "The required parameter `prompt` is missing" in refused.result["error"]
        assert refused.payload["prompt"] is None
        assert sorted(t.status for t in tasks.values()) == ["completed", "completed", "failed"]


# -- 11. usage counted once per message id --------------------------------------------------


def test_11_usage_is_counted_once_per_message_id(tmp_path: Path) -> None:
    rs = records(LONG)
    lines = [r for r in rs if r["type"] == "assistant"]
    naive = [sum(r["message"]["usage"][f] for r in lines) for f in USAGE]  # what ccusage did
    per_message = usage_by_message(rs)
    once = [sum(u[i] for u in per_message.values()) for i in range(4)]
    assert (len(lines), len(per_message)) == (254, 139)
    assert naive[0] > 1.9 * once[0] and naive[3] > 2.6 * once[3]  # one line per content block
    with opened(tmp_path / "d") as c:
        ClaudeCodeImporter(c).run([LONG])
        meta = c.sessions.get(LONG_SID).metadata
        assert meta["tokens_by_agent"]["main"] == dict(zip(TOKENS, once, strict=True))
        assert meta["messages"] == 139 + 1 + 12  # + the summariser's and the Explore agent's


# -- 12. the record types of 2.1.3xx ------------------------------------------------------------


def test_12_new_record_types_are_read_never_an_error(fresh: Fresh, tmp_path: Path) -> None:
    rs = records(fresh.hello)
    types: dict[str, int] = {}
    for r in rs:
        types[r["type"]] = types.get(r["type"], 0) + 1
    assert set(types) >= NEW_TYPES | {"api-request-shape", "api-request-blob"}
    contexts = [r["attachment"] for r in rs if r["type"] == "attachment"
                and r["attachment"]["type"] == "hook_additional_context"]  # fmt: skip
    assert [a["content"] for a in contexts] == [["tabs, never spaces"]]
    with opened(tmp_path / "d") as c:
        report = ClaudeCodeImporter(c).run([fresh.folder])
        assert report.malformed == [] and report.coerced == [] and report.skipped == []
        meta = c.sessions.get(f"cc_{fresh.hello.stem}").metadata
        assert meta["records"] == types
        assert meta["hook_contexts"] == {"SessionStart": 1} and meta["cost_usd"] == 0.0
        assert meta["version"] == next(r["version"] for r in rs if r.get("version"))
        assert prompts(c, f"cc_{fresh.hello.stem}") == ["hello there"]


# -- a data dir imported by the previous version ----------------------------------------------


def _as_version_1(c: MemoryCoordinator, sid: str) -> None:
    """Rewrite a session's fold state the way the previous version left it."""
    from claude_tui.core.importers import state as ledger

    state, _ = ledger.load_state(c.store, c.rt.guard, sid)
    assert state is not None and state["v"] == 2
    state["v"] = 1
    for key in ("seen", "msg_agent"):
        del state[key]
    for key in ("cwds", "project_dirs", "agent_ctx", "synthetic", "duplicates", "hook_contexts",
                "cost_usd", "caveat"):  # fmt: skip
        del state["session"][key]
    for agent in state["agents"].values():
        del agent["prompt_head"]
        agent["messages"] = {f"{m}|req": u for m, u in agent["messages"].items()}
    marks = list(ledger.marks_for(c.store, sid).values())
    sealed = ledger.seal(c.rt.guard, state)
    c.rt.write(lambda conn: ledger.save(conn, sid, sealed, marks, c.rt.clock()))


def test_states_of_the_previous_version_are_folded_again_or_kept(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    shutil.copytree(SPOTTER / LONG.stem, folder / LONG.stem)
    shutil.copy(LONG, folder / LONG.name)
    with opened(tmp_path / "d") as c:
        importer = ClaudeCodeImporter(c)
        importer.run([folder])
        before = rows(c)
        _as_version_1(c, LONG_SID)
        # Every file still there: folded again from them, the same rows, no checkpoint.
        again = importer.run([folder])
        assert again.sessions[0].status == "reimported" and rows(c) == before
        assert c.checkpoints.list(LONG_SID) == []
        _as_version_1(c, LONG_SID)
        # Claude Code purged the subagent's file: what was read from it stays.
        (folder / LONG.stem / "subagents" / "agent-a2898e3.jsonl").unlink()
        with open(folder / LONG.name, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"type": "user", "sessionId": LONG.stem, "uuid": "late-1",
                                 "timestamp": "2026-02-11T09:00:00Z",
                                 "message": {"role": "user", "content": "one more thing"}})
                     + "\n")  # fmt: skip
        later = importer.run([folder])
        assert later.sessions[0].status == "updated" and later.lines == 1
        assert agent_keys(c, LONG_SID) == ["a2898e3", "main"]
        assert "one more thing" in prompts(c, LONG_SID)
        after = rows(c)
        assert [t[0] for t in after["tasks"]] == [t[0] for t in before["tasks"]]
        explore = [a for a in after["agents"] if a[0].endswith(":a2898e3")]
        assert explore == [a for a in before["agents"] if a[0].endswith(":a2898e3")]
        meta = c.sessions.get(LONG_SID).metadata
        assert meta["tokens"] == before["sessions"][0][5]["tokens"]  # nothing counted twice
