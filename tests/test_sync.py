"""Sync: clocks, merge rules, and two or three hosts in one process over a real Redis.

Hosts are separate data dirs (separate SQLite files and node ids) sharing one
redis-server. Multi-process runs are in test_sync_hosts.py.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
import redis

from claude_tui.core.config import Config
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput, ConfigError
from claude_tui.core.secrets import redact_url
from claude_tui.core.sync import clocks, registers
from claude_tui.core.sync.conflicts import list_conflicts, resolve
from tests.redis_proc import RedisProcess


# -- clocks ------------------------------------------------------------------
def test_hlc_never_goes_back_and_passes_what_it_has_seen() -> None:
    a = clocks.hlc_now(0, wall_ms=1_000)
    assert a == 1_000 << 16
    assert clocks.hlc_now(a, wall_ms=999) == a + 1  # wall clock went back: logical tick
    remote = (5_000 << 16) + 7  # a host whose clock runs ahead
    b = clocks.hlc_now(a, remote=remote, wall_ms=1_001)
    assert b == remote + 1 and clocks.hlc_wall_ms(b) == 5_000
    assert clocks.hlc_now(b, wall_ms=6_000) == 6_000 << 16


def test_vector_clock_compare_and_merge() -> None:
    assert clocks.compare({"a": 1}, {"a": 2}) == "before"
    assert clocks.compare({"a": 2, "b": 1}, {"a": 2}) == "after"
    assert clocks.compare({"a": 2}, {"b": 1}) == "concurrent"
    assert clocks.compare({"a": 1}, {"a": 1}) == "equal"
    assert clocks.merged({"a": 3, "b": 1}, {"b": 4, "c": 2}) == {"a": 3, "b": 4, "c": 2}
    assert clocks.covers({"a": 5}, "a", 5) and not clocks.covers({"a": 5}, "b", 1)


# -- registers -----------------------------------------------------------------
def _value(state: registers.State) -> object:
    raw = registers.memory_value(state)[0]
    return None if raw is None else json.loads(raw)


def test_concurrent_edits_of_one_object_merge_field_by_field() -> None:
    base = registers.memory_write(None, '{"x":1,"y":1,"z":1}', None, 10, "a")
    a = registers.memory_write(base, '{"x":2,"y":1,"z":5}', None, 20, "a")  # x and z
    b = registers.memory_write(base, '{"x":1,"y":3,"z":6}', None, 21, "b")  # y and z
    ab, conflicts_ab = registers.merge(a, b)
    ba, conflicts_ba = registers.merge(b, a)
    assert _value(ab) == _value(ba) == {"x": 2, "y": 3, "z": 6}
    # Only z truly conflicts; b's write is later, so b's 6 wins and a's 5 is recorded.
    for found in (conflicts_ab, conflicts_ba):
        assert [(c.field, c.winner, c.loser, c.loser_origin) for c in found] == [("z", 6, 5, "a")]


def test_causally_later_write_is_not_a_conflict() -> None:
    a1 = registers.memory_write(None, '"one"', None, 10, "a")
    b_seen, _ = registers.merge(None, a1)
    b2 = registers.memory_write(b_seen, '"two"', None, 11, "b")  # b saw a's write
    merged, conflicts = registers.merge(a1, b2)
    assert _value(merged) == "two" and conflicts == []


def test_a_delete_beats_older_writes_and_loses_to_newer_ones() -> None:
    w = registers.memory_write(None, '{"k":1}', None, 10, "a")
    d = registers.memory_write(w, None, None, 20, "a")
    newer = registers.memory_write(w, '{"k":2}', None, 30, "b")
    assert _value(registers.merge(w, d)[0]) is None
    assert _value(registers.merge(d, newer)[0]) == {"k": 2}
    assert _value(registers.merge(newer, d)[0]) == {"k": 2}


def test_random_histories_converge_in_any_delivery_order() -> None:
    """Three hosts write objects and scalars to a few keys; any merge order gives one state."""
    rng = random.Random(7)
    hosts = ["a", "b", "c"]
    for _trial in range(40):
        states: dict[str, registers.State | None] = {h: None for h in hosts}
        produced: list[registers.State] = []
        hlc = {h: 0 for h in hosts}
        for step in range(12):
            h = rng.choice(hosts)
            if produced and rng.random() < 0.4:  # sometimes receive something first
                states[h] = registers.merge(states[h], rng.choice(produced))[0]
            hlc[h] = max(hlc[h], max((registers.state_dot(s)[0] for s in produced), default=0))
            hlc[h] = clocks.hlc_now(hlc[h], wall_ms=step)
            roll = rng.random()
            if roll < 0.6:
                raw = json.dumps({f: rng.randint(0, 3) for f in rng.sample("pqrs", 2)})
            elif roll < 0.85:
                raw = json.dumps(rng.randint(0, 3))
            else:
                raw = None
            states[h] = registers.memory_write(states[h], raw, None, hlc[h], h)
            produced.append(states[h])  # type: ignore[arg-type]
        finals = []
        for order in itertools.islice(itertools.permutations(produced), 6):
            merged: registers.State | None = None
            for s in rng.sample(list(order), len(order)):
                merged = registers.merge(merged, s)[0]
            finals.append(_value(merged))  # type: ignore[arg-type]
        assert all(f == finals[0] for f in finals), finals


# -- hosts over a real Redis -----------------------------------------------------
def host_config(root: Path, name: str, url: str | None, **over: object) -> Config:
    path = root / name
    path.mkdir(exist_ok=True)
    return Config.load(path, env={}, redis_enabled=False, sync_url=url, **over)


def shared_state(c: MemoryCoordinator) -> dict[tuple[str, str], object]:
    rows = c.store.rows(
        "SELECT namespace, key, value FROM memory_entries WHERE scope = 'swarm' ORDER BY 1, 2"
    )
    return {(ns, key): json.loads(value) for ns, key, value in rows}


def test_shared_write_on_one_host_is_read_on_another(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        a.memory.store("plan", {"steps": 3}, memory_type="shared")
        s = a.sessions.create(name="refactor")
        agent = a.agents.register(s.id, agent_type="coder")
        task = a.tasks.add(s.id, "Split the parser", agent_id=agent.id)
        a.tasks.update(task.id, status="completed")
        a.memory.store("private", 1, session_id=s.id)  # stays on host a
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:  # opening catches up
        got = b.memory.get("plan", memory_type="shared")
        assert got is not None and json.loads(got.raw) == {"steps": 3}
        assert got.origin != b.store.node_id
        assert b.sessions.get(s.id).name == "refactor"
        assert [x.id for x in b.agents.list(session_id=s.id)] == [agent.id]
        assert b.tasks.get(task.id).status == "completed"
        assert b.memory.get("private", session_id=s.id) is None
        assert b.store.scalar("SELECT count(*) FROM sync_outbox") == 0  # nothing echoed back
        peers = b.sync.status()["peers"]  # type: ignore[union-attr]
        assert [p["node"] for p in peers] == [a.store.node_id]


def test_a_received_change_is_never_sent_back(tmp_path: Path, own_redis: RedisProcess) -> None:
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        a.memory.store("k", 1, memory_type="shared")
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert b.sync is not None
        b.sync.flush()
        length = b.sync.transport.info()["length"]
        b.memory.get("k", memory_type="shared")
        b.sync.consume()
        assert b.sync.transport.info()["length"] == length
        assert b.store.scalar("SELECT count(*) FROM sync_outbox") == 0


def test_concurrent_json_edits_merge_and_true_conflicts_are_recorded(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        a.memory.store("cfg", {"x": 1, "y": 1, "z": 1}, memory_type="shared")
    a = MemoryCoordinator.open(host_config(tmp_path, "a", url))
    b = MemoryCoordinator.open(host_config(tmp_path, "b", url))
    try:
        # Neither consumes before writing: the two edits are truly concurrent.
        a.memory.store("cfg", {"x": 2, "y": 1, "z": 5}, memory_type="shared")
        b.memory.store("cfg", {"x": 1, "y": 3, "z": 6, "w": 0}, memory_type="shared")
        for c in (a, b, a):
            assert c.sync is not None
            c.sync.consume()
        va = json.loads(a.memory.get("cfg", memory_type="shared").raw)  # type: ignore[union-attr]
        vb = json.loads(b.memory.get("cfg", memory_type="shared").raw)  # type: ignore[union-attr]
        assert va == vb == {"x": 2, "y": 3, "z": 6, "w": 0}
        for c, loser in ((a, a.store.node_id), (b, a.store.node_id)):
            found = list_conflicts(c)
            assert [(f.key, f.field, f.winner, f.loser, f.loser_origin) for f in found] == [
                ("cfg", "z", "6", "5", loser)
            ]
        # Pick the other value on b: it becomes a new write that wins on a too.
        conflict = list_conflicts(b)[0]
        resolve(b, conflict.id, take="loser")
        assert list_conflicts(b) == []
        with pytest.raises(BadInput):
            resolve(b, conflict.id, take="loser")
        a.sync.consume()  # type: ignore[union-attr]
        got = a.memory.get("cfg", memory_type="shared")
        assert got is not None and json.loads(got.raw)["z"] == 5
        # On a, the later write closed its copy of the conflict.
        assert list_conflicts(a) == []
        closed = list_conflicts(a, include_resolved=True)
        assert [c.resolution for c in closed] == ["superseded by a later write"]
    finally:
        a.close()
        b.close()


def test_redelivered_entries_are_not_applied_twice(tmp_path: Path, own_redis: RedisProcess) -> None:
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        for i in range(50):
            a.memory.store(f"k{i}", i, memory_type="shared")
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert b.sync is not None
        before = shared_state(b)
        events = b.store.scalar("SELECT events FROM sync_peers")
        seq = b.store.current_seq()
        # As if b had crashed after applying but before acknowledging: Redis
        # delivers everything again.
        b.sync.transport.client.xgroup_setid(b.sync.transport.stream, b.sync.transport.group, "0")
        assert b.sync.consume() == 0
        assert shared_state(b) == before and len(before) == 50
        assert b.store.scalar("SELECT events FROM sync_peers") == events == 50
        assert b.store.current_seq() == seq  # no row was touched


def test_redis_down_queues_in_sqlite_and_drains_in_order(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)):
        pass  # b joins first
    own_redis.kill()
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        for i in range(20):
            a.memory.store("counter", i, memory_type="shared")  # works locally
        a.memory.store("other", "x", memory_type="shared")
        assert a.sync is not None
        status = a.sync.status()
        assert status["redis_up"] is False and status["queue"]["total"] == 21
    own_redis.start()  # an empty server: the swarm's stream is gone
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        assert a.store.scalar("SELECT count(*) FROM sync_outbox") == 0
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert shared_state(b) == {("default", "counter"): 19, ("default", "other"): "x"}
        assert b.sync is not None and any("lost its stream" in n for n in b.sync.take_notices())


def test_trimmed_stream_makes_a_full_resync_and_says_so(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "c", url)):
        pass  # c joins, then goes offline
    with MemoryCoordinator.open(host_config(tmp_path, "a", url, sync_stream_max_len=10)) as a:
        for i in range(400):
            a.memory.store(f"k{i}", i, memory_type="shared")
        assert a.sync is not None
        info = a.sync.transport.info()
        assert info["length"] < 400 and info["entries_added"] >= 400
    with MemoryCoordinator.open(host_config(tmp_path, "c", url)) as c:
        assert len(shared_state(c)) == 400
        assert c.sync is not None
        assert any("trimmed past this host's position" in n for n in c.sync.take_notices())
        assert "trimmed" in c.sync.status()["last_resync"]["reason"]


def test_levels_batched_waits_and_lazy_is_pulled_on_demand(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    levels = {"memory:routine": "batched", "memory:history": "lazy"}
    a = MemoryCoordinator.open(host_config(tmp_path, "a", url, sync_levels=levels))
    try:
        assert a.sync is not None
        a.memory.store("now", 1, namespace="decisions", memory_type="shared")
        a.memory.store("later", 1, namespace="routine", memory_type="shared")
        queued = dict(a.store.rows("SELECT rkey, level FROM sync_outbox"))
        # The immediate write flushed the queue, the batched one waits for the interval.
        assert list(queued.values()) == ["batched"]
        a.memory.store("old", 1, namespace="history", memory_type="shared")
        a.sync.flush()
        stream = a.sync.transport.client.xrange(a.sync.transport.stream)
        keys = [json.loads(f["e"])["r"].split("\x1f")[2] for _, f in stream]
        assert "old" not in keys and {"now", "later"} <= set(keys)
    finally:
        a.close()
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        # b joined after: its first catch-up is a full pull, lazy rows included.
        assert ("history", "old") in shared_state(b)
    with MemoryCoordinator.open(host_config(tmp_path, "a", url, sync_levels=levels)) as a:
        a.memory.store("old2", 2, namespace="history", memory_type="shared")
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert ("history", "old2") not in shared_state(b)  # lazy: not pushed
        assert b.sync is not None and b.sync.resync() >= 1  # pulled on demand
        assert shared_state(b)[("history", "old2")] == 2


def test_auth_url_works_and_its_password_is_never_shown(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.extra_args = ["--requirepass", "s3cret-pw"]
    server.start()
    try:
        url = f"redis://:s3cret-pw@127.0.0.1:{server.port}/0"
        with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
            a.memory.store("k", "v", memory_type="shared")
            assert a.sync is not None
            status = a.sync.status()
            assert status["redis_up"] and "s3cret-pw" not in json.dumps(status)
        with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
            assert json.loads(b.memory.get("k", memory_type="shared").raw) == "v"  # type: ignore[union-attr]
        with MemoryCoordinator.open(
            host_config(tmp_path, "c", url.replace("s3cret", "wrong"))
        ) as c:
            assert c.sync is not None and c.sync.status()["redis_up"] is False
            c.memory.store("local", 1, memory_type="shared")  # still works locally
    finally:
        server.stop()
    assert redact_url("rediss://user:pw@h:6380/0") == "rediss://user:***@h:6380/0"


def test_keys_share_one_cluster_slot_per_swarm(tmp_path: Path, own_redis: RedisProcess) -> None:
    from redis.crc import key_slot

    with MemoryCoordinator.open(
        host_config(tmp_path, "a", own_redis.url, sync_swarm="team-1")
    ) as a:
        assert a.sync is not None
        t = a.sync.transport
        slots = {key_slot(k.encode()) for k in (t.stream, t.state, t.epoch_key)}
        assert len(slots) == 1 and "{team-1}" in t.stream


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"sync_url": "http://x"}, r"sync_url \(\[sync\] url\) must start with redis://"),
        ({"sync_swarm": "a b"}, r"\[sync\] swarm\) must be letters"),
        ({"sync_levels": {"memory": "soon"}}, "must be one of"),
        ({"sync_levels": {"agents:x": "lazy"}}, "the name 'agents:x' must be one of memory"),
        ({"sync_batch_ms": 0}, r"sync_batch_ms \(\[sync\] batch_ms\) must be more than 0"),
    ],
)
def test_bad_sync_settings_are_refused(tmp_path: Path, over: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.load(tmp_path, env={}, **over)


def test_sync_section_of_config_toml(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[sync]\nurl = "redis://127.0.0.1:1/0"\nswarm = "s1"\n[sync.levels]\nmemory = "batched"\n'
    )
    config = Config.load(tmp_path, env={})
    assert (config.sync_url, config.sync_swarm, config.sync_levels) == (
        "redis://127.0.0.1:1/0", "s1", {"memory": "batched"},
    )  # fmt: skip
    (tmp_path / "config.toml").write_text('[sync]\nlevels = "fast"\n')
    with pytest.raises(ConfigError, match=r"\[sync\] levels must be a table"):
        Config.load(tmp_path, env={})


def test_redis_flushed_under_a_running_swarm(tmp_path: Path, own_redis: RedisProcess) -> None:
    """FLUSHALL (or a restart without persistence) between two writes loses nothing."""
    url = own_redis.url
    a = MemoryCoordinator.open(host_config(tmp_path, "a", url))
    b = MemoryCoordinator.open(host_config(tmp_path, "b", url))
    try:
        a.memory.store("before", 1, memory_type="shared")
        redis.Redis.from_url(url).flushall()
        a.memory.store("after", 2, memory_type="shared")
        for c in (b, a, b):
            assert c.sync is not None
            c.sync.consume()
        assert shared_state(a) == shared_state(b) == {
            ("default", "before"): 1, ("default", "after"): 2,
        }  # fmt: skip
    finally:
        a.close()
        b.close()


def _self_signed(dirpath: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, made with cryptography."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = dirpath / "cert.pem", dirpath / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_url(tmp_path: Path) -> None:
    """A rediss:// URL reaches a redis-server that speaks only TLS."""
    import shutil

    from tests.redis_proc import free_port
    from tests.server_proc import start_server

    cert, key = _self_signed(tmp_path)
    port = free_port()
    binary = shutil.which("redis-server")
    assert binary is not None, "the tests need redis-server on PATH"
    # Ready when it says so on its log ("Ready to accept connections tls"), not after a timer.
    proc, _ = start_server(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        b"Ready to accept connections", timeout=30, name="TLS redis-server",
    )  # fmt: skip
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}&ssl_cert_reqs=required"
    try:
        assert redis.Redis.from_url(url).ping()
        with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
            a.memory.store("over-tls", [1, 2], memory_type="shared")
        with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
            assert b.sync is not None
            b.sync.start()  # the blocking reader opens its own TLS connection
            got = b.memory.get("over-tls", memory_type="shared")
            assert got is not None and json.loads(got.raw) == [1, 2]
            assert b.sync.status()["redis_up"] is True
        plain = f"redis://127.0.0.1:{port}/0"
        with MemoryCoordinator.open(host_config(tmp_path, "c", plain)) as c:
            assert c.sync is not None and c.sync.status()["redis_up"] is False
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_redis_cluster_mode(tmp_path: Path) -> None:
    """A cluster-enabled redis-server owning every slot: the cluster client path end to end."""
    server = RedisProcess(tmp_path)
    from tests.redis_proc import free_port

    # The bus port defaults to port + 10000, which may be taken or past 65535.
    server.extra_args = [
        "--cluster-enabled", "yes", "--cluster-config-file", str(tmp_path / "nodes.conf"),
        "--cluster-port", str(free_port()),
    ]  # fmt: skip
    server.start()
    try:
        admin = redis.Redis(port=server.port, decode_responses=True)
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        # The server logs the change once it owns every slot (its next cluster cron tick).
        assert server.log is not None
        server.log.expect(lambda line: b"Cluster state changed: ok" in line, 10, "cluster ok")
        assert "cluster_state:ok" in admin.execute_command("CLUSTER", "INFO")
        url = server.url
        with MemoryCoordinator.open(host_config(tmp_path, "a", url, sync_cluster=True)) as a:
            a.memory.store("slot", {"one": 1}, memory_type="shared")
            assert a.sync is not None and a.sync.transport.cluster
        with MemoryCoordinator.open(host_config(tmp_path, "b", url, sync_cluster=True)) as b:
            got = b.memory.get("slot", memory_type="shared")
            assert got is not None and json.loads(got.raw) == {"one": 1}
    finally:
        server.stop()


def test_secrets_never_travel(tmp_path: Path, own_redis: RedisProcess) -> None:
    url = own_redis.url
    secret = "sk-ant-api03-" + "Z9q" * 12
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        a.memory.store("deploy_token", "abc-123", memory_type="shared")
        a.memory.store("anthropic", secret, memory_type="shared")
        a.memory.store("visible", "yes", memory_type="shared")
    client = redis.Redis.from_url(url)
    parts: list[bytes] = []
    for k in client.scan_iter():
        parts.append(k)
        kind = client.type(k).decode()
        if kind == "hash":
            parts += [b for pair in client.hgetall(k).items() for b in pair]
        elif kind == "stream":
            parts += [v for _, fields in client.xrange(k) for v in fields.values()]
        else:
            parts.append(client.get(k) or b"")
    text = b"".join(parts)
    assert b"visible" in text and b'\\"yes\\"' in text  # the check sees what Redis holds
    assert secret.encode() not in text and b"abc-123" not in text
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert set(shared_state(b)) == {("default", "visible")}


def test_a_host_restored_from_a_backup_rejoins_and_converges(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    from claude_tui.core.durability.backups import BackupService

    url = own_redis.url
    config_a = host_config(tmp_path, "a", url)
    with MemoryCoordinator.open(config_a) as a:
        a.memory.store("plan", {"v": 1}, memory_type="shared")
        BackupService(config_a, a).run("full")
        a.memory.store("plan", {"v": 2}, memory_type="shared")  # published, then rolled back
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        b.memory.store("from-b", 1, memory_type="shared")
    BackupService(config_a).restore()
    with MemoryCoordinator.open(config_a) as a:
        assert a.sync is not None
        assert any("restored from a backup" in n for n in a.sync.take_notices())
        # The swarm's newer state (a's own published write, b's write) came back.
        assert shared_state(a) == {("default", "plan"): {"v": 2}, ("default", "from-b"): 1}
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert shared_state(b) == {("default", "plan"): {"v": 2}, ("default", "from-b"): 1}


def test_deletes_travel_and_beat_older_writes(tmp_path: Path, own_redis: RedisProcess) -> None:
    url = own_redis.url
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        a.memory.store("doomed", 1, memory_type="shared")
        a.memory.store("kept", 1, memory_type="shared")
        s = a.sessions.create(name="short-lived")
        a.agents.register(s.id, agent_type="coder")
        a.tasks.add(s.id, "never done")
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert set(shared_state(b)) == {("default", "doomed"), ("default", "kept")}
        assert b.sessions.get(s.id).name == "short-lived"
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        assert a.memory.delete("doomed", memory_type="shared")
        a.sessions.delete(s.id)  # its agents and tasks go with it
    with MemoryCoordinator.open(host_config(tmp_path, "b", url)) as b:
        assert set(shared_state(b)) == {("default", "kept")}
        assert b.store.scalar("SELECT count(*) FROM sessions") == 0
        assert b.store.scalar("SELECT count(*) FROM agents") == 0
        assert b.store.scalar("SELECT count(*) FROM tasks") == 0
        # A later write of the deleted key brings it back everywhere.
        b.memory.store("doomed", 2, memory_type="shared")
    with MemoryCoordinator.open(host_config(tmp_path, "a", url)) as a:
        assert shared_state(a)[("default", "doomed")] == 2


def test_a_deleted_stream_or_group_is_noticed_and_resynced(
    tmp_path: Path, own_redis: RedisProcess
) -> None:
    url = own_redis.url
    a = MemoryCoordinator.open(host_config(tmp_path, "a", url))
    b = MemoryCoordinator.open(host_config(tmp_path, "b", url))
    try:
        assert a.sync is not None and b.sync is not None
        a.memory.store("one", 1, memory_type="shared")
        b.sync.consume()
        t = b.sync.transport
        t.client.xgroup_destroy(t.stream, t.group)  # b's place in the stream is gone
        a.memory.store("two", 2, memory_type="shared")
        b.sync.consume()
        assert shared_state(b) == {("default", "one"): 1, ("default", "two"): 2}
        assert any("consumer group was missing" in n for n in b.sync.take_notices())
        t.client.delete(t.stream)  # the whole stream (the state hash stays)
        a.memory.store("three", 3, memory_type="shared")
        b.sync.consume()
        assert shared_state(b)[("default", "three")] == 3
    finally:
        a.close()
        b.close()
