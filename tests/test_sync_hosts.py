"""Several hosts as separate processes with separate data dirs sharing one redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_run import run_in_process
from tests.conftest import ROOT, cli_env, run_cli
from tests.redis_proc import RedisProcess
from tests.server_proc import LineReader

HOSTS = ("a", "b", "c")


def _sync_cli(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A host's command: ``main(argv)`` here (tests/cli_run.py), its data dir its own."""
    env = cli_env(data_dir, None)
    env["CLAUDE_TUI_SYNC_URL"] = url
    return run_in_process(args, env)


def _writer(data_dir: Path, url: str, tag: str, count: int, keys: int) -> subprocess.Popen[str]:
    data_dir.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sync_workers", "write_shared", str(data_dir), url, tag,
         str(count), str(keys)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


def _dump(data_dir: Path, url: str) -> list[list[object]]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.sync_workers", "dump_shared", str(data_dir), url],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def _converged(tmp_path: Path, url: str, rounds: int = 3) -> list[list[object]]:
    """Open every host in turn until all hold the same shared state; return it."""
    states: dict[str, list[list[object]]] = {}
    for _ in range(rounds):
        states = {h: _dump(tmp_path / h, url) for h in HOSTS}
        if states["a"] == states["b"] == states["c"]:
            return states["a"]
    raise AssertionError(f"hosts did not converge: { {h: len(s) for h, s in states.items()} }")


def _acked(proc: subprocess.Popen[str]) -> list[int]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    lines = out.split()
    assert lines[-1] == "closed"
    return [int(x) for x in lines[:-1]]


def _check_every_acked_write(state: list[list[object]], acked: dict[str, list[int]]) -> None:
    keys = {row[1] for row in state}
    for tag, indexes in acked.items():
        for i in indexes:
            if i % 2:
                assert f"u-{tag}-{i}" in keys, f"lost u-{tag}-{i}"
    assert len(keys) == len(state)  # one row per key: nothing duplicated


def test_three_hosts_times_300_concurrent_writes_converge(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    procs = {h: _writer(tmp_path / h, url, h, 300, 20) for h in HOSTS}
    acked = {h: _acked(p) for h, p in procs.items()}
    assert all(len(v) == 300 for v in acked.values())
    state = _converged(tmp_path, url)
    _check_every_acked_write(state, acked)
    assert len([r for r in state if str(r[1]).startswith("u-")]) == 3 * 150
    assert {r[1] for r in state if str(r[1]).startswith("k")} <= {f"k{i}" for i in range(20)}


def test_redis_killed_and_restarted_mid_run_loses_and_duplicates_nothing(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    procs = {h: _writer(tmp_path / h, url, h, 300, 20) for h in HOSTS}
    assert procs["a"].stdout is not None and procs["a"].stderr is not None
    a_out = LineReader(procs["a"].stdout, "writer a")
    a_err = LineReader(procs["a"].stderr, "writer a (stderr)")  # read too: a full pipe stalls
    # Let every host get going, then take Redis away under them.
    a_out.expect(lambda line: line.strip() == "59", 120, "its 60th write")
    own_redis.kill()
    # Keep it away while host a acknowledges 15 more writes: lines read after the kill (past
    # what the pipe held then) are writes made while there was no Redis.
    outage = a_out.expect(
        lambda line: True, 120, "15 writes acknowledged with Redis down", start=a_out.count() + 14
    )
    assert a_out.lines[outage].strip() != "closed", "writer a ended before Redis came back"
    own_redis.start()  # empty: the stream, the groups and the state hash are gone
    acked = {h: _acked(p) for h, p in procs.items() if h != "a"}
    a_out.expect(lambda line: line.strip() == "closed", 180, "its last line")
    assert procs["a"].wait(timeout=30) == 0, "".join(a_err.lines)
    acked["a"] = [int(x) for x in a_out.lines[:-1]]
    state = _converged(tmp_path, url)
    _check_every_acked_write(state, acked)
    for h in HOSTS:
        queued = _sync_cli(tmp_path / h, url, "sync", "status", "--json")
        report = json.loads(queued.stdout)
        assert report["queue"]["total"] == 0 and report["deferred"] == 0


def test_memory_get_on_b_right_after_store_on_a(tmp_path: Path, own_redis: RedisProcess) -> None:
    url = own_redis.url
    for h in ("a", "b"):
        (tmp_path / h).mkdir()
    assert _sync_cli(tmp_path / "b", url, "doctor").returncode == 0  # b has joined
    stored = _sync_cli(tmp_path / "a", url, "memory", "store", "convention", '{"indent": "tabs"}',
                       "--type", "shared")  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    got = _sync_cli(tmp_path / "b", url, "memory", "get", "convention", "--type", "shared")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == {"indent": "tabs"}


def test_an_offline_host_catches_up_when_any_command_opens_it(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    for h in HOSTS:
        (tmp_path / h).mkdir()
        assert _sync_cli(tmp_path / h, url, "doctor").returncode == 0
    session = _sync_cli(tmp_path / "a", url, "session", "new", "--name", "swarm").stdout.strip()
    agent = _sync_cli(tmp_path / "a", url, "agent", "register", "--session", session,
                      "--type", "coder").stdout.strip()  # fmt: skip
    task = _sync_cli(tmp_path / "b", url, "task", "add", "--session", session, "Ship it").stdout
    for i in range(16):
        host = "a" if i % 2 else "b"
        r = _sync_cli(tmp_path / host, url, "memory", "store", f"note{i % 5}", str(i),
                      "--type", "shared")  # fmt: skip
        assert r.returncode == 0, r.stderr
    listed = _sync_cli(tmp_path / "c", url, "memory", "list", "--json")  # c was offline
    assert listed.returncode == 0, listed.stderr
    values = {e["key"]: e["value"] for e in json.loads(listed.stdout)}
    assert values == {f"note{k}": max(i for i in range(16) if i % 5 == k) for k in range(5)}
    agents = json.loads(_sync_cli(tmp_path / "c", url, "agent", "list", "--json").stdout)
    assert [a["id"] for a in agents] == [agent]
    tasks = json.loads(
        _sync_cli(tmp_path / "c", url, "task", "list", "--session", session, "--json").stdout
    )
    assert [t["id"] for t in tasks] == [task.strip()]
    status = json.loads(_sync_cli(tmp_path / "c", url, "sync", "status", "--json").stdout)
    assert {p["node"] for p in status["peers"]} == {
        json.loads(_sync_cli(tmp_path / h, url, "doctor", "--json").stdout)["node_id"]
        for h in ("a", "b")
    }


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"CLAUDE_TUI_SYNC_URL": "http://example"}, ["doctor"], "[sync] url) must start with"),
        ({"CLAUDE_TUI_SYNC_SWARM": "bad swarm"}, ["doctor"], "[sync] swarm) must be"),
        ({}, ["sync", "resync"], "sync is off"),
        ({}, ["sync", "resolve", "7", "--take", "loser"], "no conflict 7"),
        ({}, ["sync", "resolve", "x", "--take", "loser"], "invalid int value"),
        ({}, ["sync", "resolve", "1", "--take", "mine"], "invalid choice"),
    ],
)
def test_bad_sync_input_is_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    result = run_in_process(args, cli_env(tmp_path, None) | env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_sync_status_when_off_and_when_the_server_is_down(tmp_path: Path) -> None:
    off = run_cli(tmp_path, "sync", "status", "--json", check=True)
    assert json.loads(off.stdout)["enabled"] is False
    dead = "redis://127.0.0.1:1/0"  # nothing listens there
    stored = _sync_cli(tmp_path, dead, "memory", "store", "k", "1", "--type", "shared")
    assert stored.returncode == 0, stored.stderr  # works locally
    report = json.loads(_sync_cli(tmp_path, dead, "sync", "status", "--json").stdout)
    assert report["redis_up"] is False and report["queue"]["total"] == 1
    assert _sync_cli(tmp_path, dead, "sync", "resync").returncode == 1


def test_concurrent_edits_of_one_json_object_across_processes(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """Two hosts edit one shared object while cut off from Redis, then meet again."""
    url, dead = own_redis.url, "redis://127.0.0.1:1/0"
    for h in ("a", "b"):
        (tmp_path / h).mkdir()
    base = '{"owner": "ana", "indent": "tabs", "width": 80}'
    assert _sync_cli(tmp_path / "a", url, "memory", "store", "style", base).returncode == 0
    assert _sync_cli(tmp_path / "b", url, "memory", "get", "style").returncode == 0
    # Each host edits a different key, and both change "width": a true conflict.
    edit_a = '{"owner": "ana", "indent": "spaces", "width": 100}'
    edit_b = '{"owner": "bo", "indent": "tabs", "width": 120}'
    assert _sync_cli(tmp_path / "a", dead, "memory", "store", "style", edit_a).returncode == 0
    assert _sync_cli(tmp_path / "b", dead, "memory", "store", "style", edit_b).returncode == 0
    for h in ("a", "b", "a"):  # reconnect: each publishes its queue and applies the other's
        assert _sync_cli(tmp_path / h, url, "sync", "status").returncode == 0
    values = {
        h: json.loads(_sync_cli(tmp_path / h, url, "memory", "get", "style").stdout)
        for h in ("a", "b")
    }
    assert values["a"] == values["b"]
    assert values["a"]["indent"] == "spaces" and values["a"]["owner"] == "bo"
    assert values["a"]["width"] in (100, 120)
    for h in ("a", "b"):
        conflicts = json.loads(_sync_cli(tmp_path / h, url, "sync", "conflicts", "--json").stdout)
        assert [(c["key"], c["field"]) for c in conflicts] == [("style", "width")]
        lost = json.loads(conflicts[0]["loser"])
        assert {lost, json.loads(conflicts[0]["winner"])} == {100, 120}
        assert values[h]["width"] == json.loads(conflicts[0]["winner"])


def test_the_cli_says_when_a_trimmed_stream_forced_a_full_resync(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    for h in ("a", "c"):
        (tmp_path / h).mkdir()
        assert _sync_cli(tmp_path / h, url, "doctor").returncode == 0  # both joined
    (tmp_path / "a" / "config.toml").write_text("[sync]\nstream_max_len = 10\n")
    acked = _acked(_writer(tmp_path / "a", url, "a", 300, 5))
    assert len(acked) == 300
    listed = _sync_cli(tmp_path / "c", url, "memory", "list", "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    assert "trimmed past this host's position" in listed.stderr
    assert "full resync of shared data" in listed.stderr
    keys = {e["key"] for e in json.loads(listed.stdout)}
    assert {f"u-a-{i}" for i in acked if i % 2} <= keys


def _host_cli(
    data_dir: Path, sync_url: str, l2_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """The CLI of a host with its own private Redis (L2) and the swarm's sync server."""
    env = cli_env(data_dir, l2_url)
    env["CLAUDE_TUI_SYNC_URL"] = sync_url
    return subprocess.run(
        [sys.executable, "-m", "claude_tui", *args],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


def test_the_losing_host_reads_the_winner_through_its_private_redis(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    """A conflict resolved by sync reaches L1 and L2 like a local write (issue 15, item 3)."""
    url, dead = own_redis.url, "redis://127.0.0.1:1/0"
    private: dict[str, RedisProcess] = {}
    try:
        for h in ("a", "b"):
            (tmp_path / h).mkdir()
            private[h] = RedisProcess(tmp_path / h)
            private[h].start()
        base = '{"owner": "ana", "width": 80}'
        first = _host_cli(tmp_path / "a", url, private["a"].url, "memory", "store", "style", base)
        assert first.returncode == 0, first.stderr
        assert _host_cli(tmp_path / "b", url, private["b"].url, "memory", "get", "style").stdout
        # Both change "width" while the sync server is out of reach: a true conflict.
        # Each host's own value lands in its private Redis too.
        for h, width in (("a", 100), ("b", 120)):
            edit = json.dumps({"owner": "ana", "width": width})
            stored = _host_cli(tmp_path / h, dead, private[h].url, "memory", "store", "style", edit)
            assert stored.returncode == 0, stored.stderr
            got = _host_cli(tmp_path / h, dead, private[h].url, "memory", "get", "style")
            assert json.loads(got.stdout)["width"] == width
        for h in ("a", "b", "a"):  # reconnect: each publishes its queue and applies the other's
            status = _host_cli(tmp_path / h, url, private[h].url, "sync", "status")
            assert status.returncode == 0, status.stderr
        winners = set()
        for h in ("a", "b"):
            conflicts = json.loads(
                _host_cli(tmp_path / h, url, private[h].url, "sync", "conflicts", "--json").stdout
            )
            assert [(c["key"], c["field"]) for c in conflicts] == [("style", "width")]
            winners.add(json.loads(conflicts[0]["winner"]))
        assert len(winners) == 1  # both hosts keep the same winner
        (winner,) = winners
        for h in ("a", "b"):  # the loser's host too, through its L2
            got = _host_cli(tmp_path / h, url, private[h].url, "memory", "get", "style", "--json")
            assert got.returncode == 0, got.stderr
            assert json.loads(got.stdout)["value"]["width"] == winner, h
    finally:
        for server in private.values():
            server.stop()
