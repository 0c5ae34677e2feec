"""The MCP stdio wire: every request line gets a reply, whatever it holds.

The SDK's stdio transport parses each line with pydantic (jiter), which refuses
values nested about 200 levels deep, lone surrogates (``"\\ud800"``) and
integers of more than 4,300 digits, and when a line does not parse it drops
it without a word: the client waits forever for its answer. Here each line is
checked with that same parser first. A line it accepts goes to the SDK
unchanged; a line it refuses is answered here, under the request's id when
one can be found in it, with a JSON-RPC error naming what is wrong (-32602
for a value the server cannot take, -32600 for a message that is not a valid
request, -32700 when no request can be read from it at all). A notification
(no id) gets no reply, as JSON-RPC says.

While serving, file descriptors 0 and 1 point at ``/dev/null`` and stderr (as
the SDK does), so a stray ``print`` or a child process never writes into the
protocol.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

MAX_INT_DIGITS = 4300  # CPython's int/str conversion limit (sys.get_int_max_str_digits)
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602
_STOPS = frozenset(' \t\r\n,:[]{}"')


@dataclass
class Scan:
    """What a single pass over a message's text found, without building any values."""

    top: dict[str, str] = field(default_factory=dict)  # top-level key -> raw scalar token
    keys: set[str] = field(default_factory=set)  # every top-level key
    depth: int = 0
    lone_surrogate: str | None = None
    big_int_digits: int = 0
    unterminated: bool = False


def _string_end(text: str, i: int) -> tuple[int | None, str | None]:
    """Index after the string that starts at ``i`` (None: unterminated); a lone surrogate."""
    n = len(text)
    j = i + 1
    lone: str | None = None
    while j < n:
        c = text[j]
        if c == '"':
            return j + 1, lone
        if c != "\\":
            j += 1
            continue
        if text[j + 1 : j + 2] != "u":
            j += 2
            continue
        try:
            point = int(text[j + 2 : j + 6], 16)
        except ValueError:
            j += 2
            continue
        if 0xD800 <= point <= 0xDBFF:
            low = text[j + 6 : j + 8] == "\\u" and text[j + 8 : j + 12]
            try:
                paired = bool(low) and 0xDC00 <= int(str(low), 16) <= 0xDFFF
            except ValueError:
                paired = False
            if paired:
                j += 12
                continue
            lone = lone or f"U+{point:04X}"
        elif 0xDC00 <= point <= 0xDFFF:
            lone = lone or f"U+{point:04X}"
        j += 6
    return None, lone


def scan(text: str) -> Scan:
    """One pass over ``text``: nesting depth, lone surrogates, huge integers, top-level scalars.

    Iterative (no recursion, whatever the depth), and tolerant: it never
    raises, it reports what it could see.
    """
    found = Scan()
    i, n, depth = 0, len(text), 0
    key: str | None = None  # a top-level key whose value comes next
    last: str | None = None  # the last top-level string (a key when a ':' follows)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c in "{[":
            depth += 1
            found.depth = max(found.depth, depth)
            key = None  # a container value of a top-level key: not recorded
            i += 1
        elif c in "}]":
            depth -= 1
            i += 1
        elif c == ":":
            if depth == 1 and last is not None:
                key = last
                found.keys.add(last)
            last = None
            i += 1
        elif c == ",":
            last = None
            i += 1
        elif c == '"':
            end, lone = _string_end(text, i)
            if lone and found.lone_surrogate is None:
                found.lone_surrogate = lone
            if end is None:
                found.unterminated = True
                return found
            raw = text[i:end]
            if depth == 1 and key is not None:
                found.top[key] = raw
                key = None
            elif depth == 1:
                with contextlib.suppress(ValueError):
                    last = json.loads(raw)
            i = end
        else:
            j = i
            while j < n and text[j] not in _STOPS:
                j += 1
            token = text[i:j] or text[i]
            if token[:1] in "-0123456789":
                whole = token.lstrip("-").split(".")[0].split("e")[0].split("E")[0]
                found.big_int_digits = max(found.big_int_digits, len(whole))
            if depth == 1 and key is not None:
                found.top[key] = token
                key = None
            i = max(j, i + 1)
    return found


def _request_id(raw: str | None) -> Any:
    """The id to answer under: a string or a (reasonably sized) integer, else None."""
    if raw is None or len(raw) > MAX_INT_DIGITS:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def refusal(line: bytes, problem: str) -> str | None:
    """The JSON-RPC error line answering ``line`` (which the SDK cannot parse), or None.

    ``problem`` is the parser's own first complaint, used when nothing more
    specific is found.
    """
    try:
        text = line.decode("utf-8")
        undecodable = None
    except UnicodeDecodeError as exc:
        text = line.decode("utf-8", "replace")
        undecodable = f"the message is not UTF-8 (byte 0x{line[exc.start]:02x} at {exc.start})"
    if not text.strip():
        return None
    found = scan(text)
    has_id = "id" in found.keys
    method = found.top.get("method")
    if method is not None and not has_id:
        return None  # a notification: JSON-RPC never answers one
    if "method" not in found.keys and found.keys & {"result", "error"}:
        return None  # a (broken) response to one of our requests: nothing to answer
    request_id = _request_id(found.top.get("id"))
    if undecodable:
        code, reason = PARSE_ERROR, undecodable
    elif found.lone_surrogate:
        code = INVALID_PARAMS
        reason = (
            f"a string holds a lone surrogate ({found.lone_surrogate}), which is not valid "
            "Unicode; send text as UTF-8 or as \\u escapes of whole characters"
        )
    elif found.big_int_digits > MAX_INT_DIGITS:
        code = INVALID_PARAMS
        reason = (
            f"an integer has {found.big_int_digits:,} digits, over the limit of "
            f"{MAX_INT_DIGITS:,}; send it as a string"
        )
    elif found.depth >= 190:
        code = INVALID_PARAMS
        reason = f"the message nests {found.depth:,} levels deep, over the limit of about 190"
    elif (
        found.unterminated or (method is None and not has_id) or problem.startswith("Invalid JSON")
    ):
        code, reason = PARSE_ERROR, f"not a JSON-RPC message: {problem}"
    else:
        code, reason = INVALID_REQUEST, f"not a valid JSON-RPC request: {problem}"
    if code == PARSE_ERROR and not has_id:
        request_id = None
    title = {PARSE_ERROR: "Parse error", INVALID_REQUEST: "Invalid request"}.get(
        code, "Invalid params"
    )
    reply = {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": code, "message": f"{title}: {reason}"},
    }
    return json.dumps(reply, ensure_ascii=True, separators=(",", ":"))


def check_line(line: bytes) -> tuple[str | None, str | None]:
    """``(text for the SDK, None)`` for a message it can parse, else ``(None, reply or None)``."""
    import mcp_types as types
    from pydantic import ValidationError

    try:
        text = line.decode("utf-8")
        types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except UnicodeDecodeError:
        return None, refusal(line, "not UTF-8")
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"msg": str(exc)}
        return None, refusal(line, " ".join(str(first.get("msg", exc)).split())[:300])
    except (ValueError, RecursionError) as exc:  # anything else the parser may raise
        return None, refusal(line, " ".join(str(exc).split())[:300])
    return text, None


class _Out:
    """The protocol's stdout: whole lines, one writer at a time (the SDK's and ours)."""

    def __init__(self, raw: BinaryIO) -> None:
        import anyio

        self.raw = raw
        self.lock = anyio.Lock()

    async def write(self, text: str) -> None:
        import anyio

        # A lone surrogate cannot be UTF-8: escaped, the line stays valid JSON text.
        data = text.encode("utf-8", "backslashreplace")
        async with self.lock:
            await anyio.to_thread.run_sync(self._put, data)

    def _put(self, data: bytes) -> None:
        self.raw.write(data)
        self.raw.flush()

    async def flush(self) -> None:
        """Every write is flushed already."""


class _In:
    """The protocol's stdin as checked lines; refused requests are answered on ``out``."""

    def __init__(self, raw: BinaryIO, out: _Out) -> None:
        self.raw = raw
        self.out = out

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        import anyio

        while True:
            line = await anyio.to_thread.run_sync(self.raw.readline)
            if not line:
                return
            text, reply = check_line(line)
            if reply is not None:
                await self.out.write(reply + "\n")
            if text is not None:
                yield text


@contextlib.contextmanager
def _claimed_stdio() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """The protocol's own copies of fds 0 and 1; meanwhile 0 reads /dev/null, 1 goes to 2."""
    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        with (
            os.fdopen(wire_in, "rb", closefd=False) as i,
            os.fdopen(wire_out, "wb", closefd=False) as o,
        ):
            yield cast(BinaryIO, i), cast(BinaryIO, o)
    finally:
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        os.close(wire_in)
        os.close(wire_out)


def serve_stdio(server: Any) -> None:
    """Serve ``server`` (an ``MCPServer``) on stdin/stdout, answering every request line."""
    import anyio
    from mcp.server.stdio import stdio_server

    async def run() -> None:
        with _claimed_stdio() as (raw_in, raw_out):
            out = _Out(raw_out)
            lines = _In(raw_in, out)
            async with stdio_server(stdin=cast(Any, lines), stdout=cast(Any, out)) as (r, w):
                low = server._lowlevel_server  # what MCPServer.run_stdio_async runs
                await low.run(r, w, low.create_initialization_options())

    anyio.run(run)
