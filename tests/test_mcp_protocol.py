"""The MCP server over its raw stdio protocol: every request gets a reply, whatever it holds.

One real ``claude-tui mcp`` process; the test writes JSON-RPC lines to its
stdin byte for byte (no SDK client, which would refuse to send these) and
reads its stdout, waiting on the pipe (select), never sleeping. A second
process (the CLI) writes to the same data dir meanwhile.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, cli_env, run_cli

pytestmark = pytest.mark.timeout(120)


class Wire:
    """A raw JSON-RPC conversation with one server process."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.buffer = b""

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
        assert self.proc.stdin is not None
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def reply(self, timeout: float = 30.0) -> dict[str, Any] | None:
        """The next line the server writes, parsed; None when none comes in ``timeout``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        found: dict[str, Any] = json.loads(line)
        return found

    def call(self, request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method,
                              "params": params}))  # fmt: skip
        got = self.reply()
        assert got is not None and got.get("id") == request_id, got
        return got

    def tool(self, request_id: int, name: str, **arguments: Any) -> dict[str, Any]:
        result = self.call(request_id, "tools/call", {"name": name, "arguments": arguments})
        assert "result" in result and not result["result"].get("isError"), result
        structured: dict[str, Any] = result["result"]["structuredContent"]
        return structured


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-raw") / "data"


@pytest.fixture(scope="module")
def wire(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    errlog = (tmp_path_factory.getbasetemp() / "mcp-raw-stderr.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_tui", "mcp", "--create-session", "raw"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog,
        env=cli_env(data, None), cwd=ROOT,
    )  # fmt: skip
    w = Wire(proc)
    try:
        init = w.call(1, "initialize", {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"},
        })  # fmt: skip
        assert init["result"]["serverInfo"]["name"] == "claude-tui"
        w.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
        yield w
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            errlog.close()


def _store(request_id: object, value: str, key: str = '"k"') -> str:
    """A raw tools/call memory_store line with ``value`` spliced in as JSON text."""
    return (
        f'{{"jsonrpc":"2.0","id":{request_id},"method":"tools/call","params":'
        f'{{"name":"memory_store","arguments":{{"key":{key},"value":{value}}}}}}}'
    )


BAD = [
    # (case, line, id the reply must carry, error code, words the message must hold)
    ("nested-200", _store(10, "[" * 200 + "]" * 200), 10, -32602, "nests 20"),
    ("nested-50000", _store(11, "[" * 50_000 + "]" * 50_000), 11, -32602, "levels deep"),
    ("nested-objects-300", _store(12, '{"a":' * 300 + "1" + "}" * 300), 12, -32602, "levels"),
    ("lone-high-surrogate-value", _store(13, '"\\ud800"'), 13, -32602, "lone surrogate (U+D800)"),
    ("lone-low-surrogate-key", _store(14, '"v"', key='"\\udc00"'), 14, -32602, "U+DC00"),
    (
        "lone-surrogate-deep-in-a-list",
        _store(15, '["ok", {"x": ["\\udbff"]}]'),
        15,
        -32602,
        "lone surrogate",
    ),
    ("reversed-pair", _store(16, '"\\udc00\\ud800"'), 16, -32602, "lone surrogate"),
    (
        "lone-surrogate-in-the-tool-name",
        '{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"\\ud83d","arguments":{}}}',
        17,
        -32602,
        "lone surrogate",
    ),
    ("int-4301-digits", _store(18, "9" * 4301), 18, -32602, "4,301 digits"),
    ("int-100000-digits", _store(19, "-" + "1" * 100_000), 19, -32602, "100,000 digits"),
    (
        "int-in-the-id",
        '{"jsonrpc":"2.0","id":' + "7" * 5000 + ',"method":"ping"}',
        None,
        -32602,
        "5,000 digits",
    ),
    (
        "string-id-lone-surrogate",
        '{"jsonrpc":"2.0","id":"a\\ud800","method":"tools/call","params":{"name":"memory_store",'
        '"arguments":{"key":"k","value":1}}}',
        "a\ud800",
        -32602,
        "lone surrogate",
    ),
    ("not-json", "this is not json", None, -32700, "Parse error"),
    ("truncated", '{"jsonrpc":"2.0","id":20,"method":"ping"', 20, -32700, "Parse error"),
    (
        "not-utf8",
        b'{"jsonrpc":"2.0","id":21,"method":"ping","params":{"x":"\xff"}}',
        21,
        -32700,
        "not UTF-8",
    ),
    (
        "params-not-an-object",
        '{"jsonrpc":"2.0","id":22,"method":"tools/call","params":5}',
        22,
        None,
        "",
    ),
]


def test_every_bad_request_gets_a_reply_and_the_server_keeps_serving(
    wire: Wire, data: Path
) -> None:
    failures = []
    for case, line, request_id, code, words in BAD:
        wire.send(line)
        got = wire.reply(timeout=30)
        error = (got or {}).get("error") or {}
        result = (got or {}).get("result") or {}
        answered = got is not None and got.get("id") == request_id
        if code is None:  # the SDK's own answer (an error reply or a tool error) is fine
            ok = answered and (bool(error) or bool(result.get("isError")))
        else:
            ok = answered and error.get("code") == code and words in error.get("message", "")
        if not ok or "\n" in str(error.get("message", "")):
            failures.append(f"{case}: {json.dumps(got)[:300] if got else 'NO REPLY'}")
    assert not failures, "\n".join(failures)
    # Still serving, and nothing bad was stored.
    assert wire.call(30, "ping", {})["result"] == {}
    assert wire.tool(31, "memory_retrieve", key="k")["found"] is False


def test_a_bad_notification_gets_no_reply_and_the_next_request_is_answered(wire: Wire) -> None:
    wire.send('{"jsonrpc":"2.0","method":"notifications/x","params":{"v":"\\ud800"}}')
    wire.send('{"jsonrpc":"2.0","method":"notifications/x","params":{"v":' + "[" * 300 + "]" * 300
              + "}}")  # fmt: skip
    assert wire.call(40, "ping", {})["result"] == {}  # the very next line is the ping's answer


def test_values_just_inside_the_limits_are_stored_and_read_back(wire: Wire) -> None:
    deep: Any = 1
    for _ in range(150):
        deep = [deep]
    stored = wire.tool(50, "memory_store", key="deep", value=deep)
    assert stored["stored"] is True
    big = int("9" * 4000)
    wire.tool(51, "memory_store", key="big", value=big)
    assert wire.tool(52, "memory_retrieve", key="big")["entry"]["value"] == big
    pair = "\U0001f600 ok"  # a surrogate pair on the wire is one whole character
    wire.send(_store(53, '"\\ud83d\\ude00 ok"', key='"emoji"'))
    got = wire.reply()
    assert got is not None and got["id"] == 53 and "result" in got, got
    assert wire.tool(54, "memory_retrieve", key="emoji")["entry"]["value"] == pair
    assert wire.tool(55, "memory_retrieve", key="deep")["entry"]["value"] == deep


def test_listings_say_when_they_stop_at_their_limit(wire: Wire, data: Path) -> None:
    for i in range(5):
        wire.tool(60 + i, "memory_store", key=f"page-{i}", value=i, namespace="paging")
    # Another process writes to the same data dir meanwhile: its shared entry counts too.
    run_cli(data, "memory", "store", "from-cli", "1", "--namespace", "paging", "--type",
            "shared", check=True)  # fmt: skip
    first = wire.tool(70, "memory_list", namespace="paging", limit=4)
    assert (first["count"], first["total"], first["truncated"], first["more"]) == (4, 6, True, True)
    assert "offset=4" in first["note"] and "4 of 6" in first["note"]
    rest = wire.tool(71, "memory_list", namespace="paging", limit=4, offset=4)
    assert (rest["count"], rest["truncated"], rest["more"]) == (2, False, False)
    assert "note" not in rest
    keys = {e["key"] for e in first["entries"] + rest["entries"]}
    assert keys == {f"page-{i}" for i in range(5)} | {"from-cli"}
    for i in range(3):
        wire.tool(80 + i, "task_create", title=f"t{i}")
    tasks = wire.tool(85, "task_list", limit=2)
    assert (tasks["count"], tasks["total"], tasks["truncated"]) == (2, 3, True)
    assert "offset=2" in tasks["note"]
    assert wire.tool(86, "task_list", limit=2, offset=2)["truncated"] is False
    for i in range(3):
        wire.tool(90 + i, "session_checkpoint", label=f"c{i}")
    cps = wire.tool(95, "session_checkpoints", limit=1)
    assert (len(cps["checkpoints"]), cps["total"], cps["truncated"]) == (1, 3, True)
