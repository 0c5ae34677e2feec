"""Key rotation while other processes have the data dir open (issue 15, item 2).

Real processes on one data dir: a process that opened it before the rotation
(it has the old keys loaded) reads and stores secrets while the real
``claude-tui keys rotate`` runs in another, with and without ``--drop-old``,
and killed by ``SIGKILL`` between any two of its steps
(``CLAUDE_TUI_FAULT=rotate:<step>``, see ``core/durability/faults.py``).
Afterwards a fresh process reads every acknowledged secret.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.checkpoints import decode_snapshot
from claude_tui.core.durability.encryption import KeysRotated, load_keys
from claude_tui.core.models import private_scope
from claude_tui.core.records import memory as memory_door
from tests.conftest import ROOT, cli_env, run_cli
from tests.key_workers import Lines, secret

# Every kill point of a rotation, in order.
STEPS = [
    "rotate:start",  # nothing done yet
    "rotate:key-file",  # the new key put first in the file; the generation not moved
    "rotate:marked",  # the rotation marked and the generation moved
    "rotate:values",  # memory values re-encrypted
    "rotate:columns",  # sealed columns of the other record kinds re-encrypted
    "rotate:checkpoints",  # checkpoint snapshots re-encrypted
    "rotate:sealed",  # archive chunks re-encrypted, secrets stored in clear sealed
    "rotate:finished",  # the key check under the new key, the mark removed
    "rotate:dropped",  # the old keys gone from the file; the generation not moved yet
]


def _plain(data_dir: Path) -> Config:
    return Config.load(data_dir, env={}, redis_enabled=False)


def _start(procs: list[subprocess.Popen[str]], role: str, data_dir: Path, session: str) -> Lines:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.key_workers", role, str(data_dir), session],
        cwd=ROOT, env=cli_env(data_dir, None), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs.append(proc)
    return Lines(proc)


def _session_with_secrets(data_dir: Path, n: int) -> str:
    with MemoryCoordinator.open(_plain(data_dir), use_redis=False) as c:
        session = c.sessions.create(name="rotation").id
        for i in range(n):
            c.memory.store(f"s-{i}", secret(i), session_id=session)
        return session


def _rotate(data_dir: Path, *extra: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = cli_env(data_dir, None)
    if fault:
        env["CLAUDE_TUI_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "claude_tui", "keys", "rotate", *extra],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _fresh_values(data_dir: Path, session: str, keys: list[str]) -> dict[str, object]:
    """What a process opened now reads for each key."""
    with MemoryCoordinator.open(_plain(data_dir), use_redis=False) as c:
        out: dict[str, object] = {}
        for key in keys:
            found = c.memory.get(key, session_id=session)
            out[key] = None if found is None else found.value
        return out


def test_an_open_process_reads_and_stores_secrets_across_rotations(
    data_dir: Path, procs: list[subprocess.Popen[str]]
) -> None:
    session = _session_with_secrets(data_dir, 5)
    a = _start(procs, "serve", data_dir, session)
    a.until(lambda lines: "ready" in lines, "process A open")
    # A loads the keys of today before any rotation.
    assert a.ask("get s-0") == f"value s-0 {json.dumps(secret(0))}"

    run_cli(data_dir, "keys", "rotate", check=True)
    for i in range(5):
        assert a.ask(f"get s-{i}") == f"value s-{i} {json.dumps(secret(i))}"
    assert a.ask(f"put new-1 {json.dumps(secret('new-1'))}") == "ok new-1"

    run_cli(data_dir, "keys", "rotate", "--drop-old", check=True)
    assert len(load_keys(_plain(data_dir)).keys) == 1
    assert a.ask(f"put new-2 {json.dumps(secret('new-2'))}") == "ok new-2"
    for key in ("s-3", "new-1", "new-2"):
        assert a.ask(f"get {key}").startswith(f"value {key} {{")

    keys = [f"s-{i}" for i in range(5)] + ["new-1", "new-2"]
    expected = {**{f"s-{i}": secret(i) for i in range(5)}, "new-1": secret("new-1")}
    expected["new-2"] = secret("new-2")
    assert _fresh_values(data_dir, session, keys) == expected
    got = run_cli(data_dir, "memory", "get", "new-2", "--session", session, check=True)
    assert json.loads(got.stdout) == secret("new-2")


def test_a_value_sealed_before_a_rotation_is_sealed_again_at_its_commit(
    data_dir: Path,
) -> None:
    """The value this process sealed with the old key is never committed after --drop-old."""
    session = _session_with_secrets(data_dir, 1)
    with MemoryCoordinator.open(_plain(data_dir), use_redis=False) as c:
        assert c.memory.get("s-0", session_id=session) is not None  # old keys loaded
        raw = json.dumps(secret("late"))
        sealed = memory_door.prepare(c.rt.guard, "late", "default", raw)
        assert sealed.encrypted

        def body(conn: object) -> object:
            return memory_door.upsert(
                conn,  # type: ignore[arg-type]
                sealed, key="late", namespace="default", scope=private_scope(session, None),
                session_id=session, agent_id=None, memory_type="persistent",
                expires=None, now=c.rt.clock(), origin=c.store.node_id,
            )  # fmt: skip

        # Another process rotates and drops the key this value was sealed with.
        run_cli(data_dir, "keys", "rotate", "--drop-old", check=True)
        with pytest.raises(KeysRotated):
            c.rt.write(body)
        assert c.memory.get("late", session_id=session) is None  # nothing was written
        # The service seals again with the reloaded keys and writes.
        c.memory.store("late", secret("late"), session_id=session)
        c.memory.store("later", secret("later"), session_id=session)
    assert _fresh_values(data_dir, session, ["s-0", "late", "later"]) == {
        "s-0": secret(0),
        "late": secret("late"),
        "later": secret("later"),
    }


@pytest.mark.parametrize("step", STEPS)
def test_rotation_killed_at_each_step_loses_no_secret(
    data_dir: Path, procs: list[subprocess.Popen[str]], step: str
) -> None:
    session = _session_with_secrets(data_dir, 20)
    # A checkpoint holds sealed copies too: the rotation must carry it along.
    run_cli(data_dir, "session", "checkpoint", session, check=True)
    writer = _start(procs, "writer", data_dir, session)
    writer.until(lambda _: len(writer.acks()) >= 5, "the writer going")

    killed = _rotate(data_dir, "--drop-old", fault=step)
    assert killed.returncode == -9, killed.stderr
    seen = len(writer.acks())
    writer.until(lambda _: len(writer.acks()) >= seen + 5, f"the writer going on after {step}")

    done = _rotate(data_dir, "--drop-old")
    assert done.returncode == 0, done.stderr
    seen = len(writer.acks())
    writer.until(lambda _: len(writer.acks()) >= seen + 5, "the writer going on after a rotation")
    writer.proc.kill()
    writer.proc.communicate(timeout=30)
    assert writer.errors() == []

    acked = writer.acks()
    assert acked == list(range(len(acked)))
    keys = [f"s-{i}" for i in range(20)] + [f"w-{i}" for i in acked]
    values = _fresh_values(data_dir, session, keys)
    assert values == {k: secret(int(k[2:])) for k in keys}
    assert len(load_keys(_plain(data_dir)).keys) == 1
    with MemoryCoordinator.open(_plain(data_dir), use_redis=False) as c:
        (blob,) = c.store.row("SELECT data FROM checkpoints") or (None,)
        part = decode_snapshot(bytes(blob))["tables"]["memory_entries"]
        at = {name: part["columns"].index(name) for name in ("key", "value", "encrypted")}
        copies = {
            row[at["key"]]: json.loads(c.rt.sealer.open(row[at["value"]], True))
            for row in part["rows"]
            if row[at["encrypted"]]
        }
    assert copies == {f"s-{i}": secret(i) for i in range(20)}


def test_a_row_sealed_before_a_rotation_is_protected_again_and_written(data_dir: Path) -> None:
    """The other doors' writes (a task here) seal again when a rotation overtook them."""
    from claude_tui.core.records import tasks as task_door

    session = _session_with_secrets(data_dir, 1)
    title = "deploy with sk-ant-" + "k" * 30
    with MemoryCoordinator.open(_plain(data_dir), use_redis=False) as c:
        task = c.tasks.add(session, "plain title")
        sealings = []

        def protect() -> object:
            row = task_door.protect(c.rt.guard, {"title": title}, None)
            sealings.append(row)
            if len(sealings) == 1:  # another process rotates between the seal and the commit
                run_cli(data_dir, "keys", "rotate", "--drop-old", check=True)
            return row

        c.rt.write_protected(protect, lambda conn, row: task_door.update(conn, task.id, row))
        assert len(sealings) == 2  # refused once at the commit, sealed again, written
    with MemoryCoordinator.open(_plain(data_dir), use_redis=False) as fresh:
        assert fresh.tasks.get(task.id, reveal=True).title == title
        assert fresh.tasks.get(task.id).title != title  # stored redacted, original sealed


def test_captures_a_hook_spooled_before_a_rotation_still_open_after_drop_old(
    data_dir: Path,
) -> None:
    from claude_tui.hooks import spool

    _session_with_secrets(data_dir, 1)  # the key file exists
    config = _plain(data_dir)
    spool.append(config, "UserPromptSubmit", {"prompt": "use sk-ant-" + "p" * 30}, 1.0)
    run_cli(data_dir, "keys", "rotate", "--drop-old", check=True)
    spool.append(config, "Stop", {"n": 2}, 2.0)  # after: sealed with the new key
    seen: list[tuple[str, dict[str, object], float]] = []
    assert spool.drain(config, lambda event, payload, at: seen.append((event, payload, at))) == 2
    assert seen == [
        ("UserPromptSubmit", {"prompt": "use sk-ant-" + "p" * 30}, 1.0),
        ("Stop", {"n": 2}, 2.0),
    ]
