"""A small Redis client for the L2 tier: RESP2 over plain sockets, nothing else imported.

Importing redis-py costs 100-250 ms (it loads asyncio, and OpenTelemetry when that is
installed): more than a whole ``claude-tui memory get``. L2 needs a handful of
commands, so :func:`connect` serves them for ``redis://`` and ``unix://`` URLs with the
same method names and results as ``redis.Redis`` (bytes, no decoding). URLs it does not
serve (``rediss://``, query options other than ``db``) return None: the caller then
uses redis-py.

Connections are pooled (one per concurrent caller, so threads never share one), each
authenticated and on its database as the URL says. A connection that fails is closed;
a command that fails on a reused connection before any reply (the server restarted,
an idle connection was dropped) is sent once more on a new one, as redis-py does.
"""

from __future__ import annotations

import _socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_MAX_IDLE = 8


class RespError(Exception):
    """Talking to Redis failed (no answer, a broken connection, or a protocol error)."""


class ResponseError(RespError):
    """Redis answered with an error (``-ERR ...``, ``-NOSCRIPT ...``)."""


class _Address:
    """Where and how to connect, parsed from a URL."""

    def __init__(
        self, *, path: str | None, host: str, port: int, db: int,
        username: str | None, password: str | None,
    ) -> None:  # fmt: skip
        self.path = path
        self.host = host
        self.port = port
        self.db = db
        self.username = username
        self.password = password


def parse_url(url: str) -> _Address | None:
    """The address of a ``redis://`` or ``unix://`` URL this client serves (else None)."""
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("redis", "unix") or set(query) - {"db"} or parts.fragment:
        return None
    db_text = query.get("db", [""])[-1]
    path = unquote(parts.path)
    if parts.scheme == "redis" and not db_text and path.strip("/"):
        db_text = path.strip("/")
    if db_text and not db_text.isdigit():
        return None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if parts.scheme == "unix":
        if not path:
            return None
        return _Address(path=path, host="", port=0, db=int(db_text or 0),
                        username=username, password=password)  # fmt: skip
    return _Address(path=None, host=parts.hostname or "localhost", port=port or 6379,
                    db=int(db_text or 0), username=username, password=password)  # fmt: skip


def _encode(args: Sequence[Any]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode("utf-8")
        elif isinstance(arg, int | float) and not isinstance(arg, bool):
            data = repr(arg).encode("ascii")
        else:
            raise RespError(f"cannot send a {type(arg).__name__} to Redis")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Connection:
    """One socket and its read buffer.

    ``_socket``, the C module under ``socket``: importing ``socket`` itself builds its
    enums (3-4 ms), and nothing here needs more than the C socket.
    """

    def __init__(self, address: _Address, timeout: float, connect_timeout: float) -> None:
        self.sock = _open_socket(address, connect_timeout)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.replied = False  # whether any reply was read on it (else a retry is safe)
        try:
            if address.password is not None:
                auth = [address.username] if address.username else []
                self.command(["AUTH", *auth, address.password])
            if address.db:
                self.command(["SELECT", address.db])
        except BaseException:
            self.close()
            raise
        self.replied = False

    def command(self, args: Sequence[Any]) -> Any:
        self.sock.sendall(_encode(args))
        return self._reply()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("Redis closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            self._fill()

    def _reply(self) -> Any:
        line = self._line()
        self.replied = True
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise ResponseError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buf) < size + 2:
                self._fill()
            data = bytes(self.buf[:size])
            del self.buf[: size + 2]
            return data
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise RespError(f"unexpected reply from Redis: {line[:40]!r}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _open_socket(address: _Address, timeout: float) -> Any:
    """A connected socket (unix, or the first TCP address that answers)."""
    if address.path is not None:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(address.path)
        except BaseException:
            sock.close()
            raise
        return sock
    error: OSError | None = None
    for family, kind, proto, _, where in _socket.getaddrinfo(
        address.host, address.port, 0, _socket.SOCK_STREAM
    ):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(where)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"cannot resolve {address.host}")


class Script:
    """A Lua script run by its SHA1, loaded on the first NOSCRIPT (as ``register_script``)."""

    def __init__(self, client: Client, text: str) -> None:
        try:  # the C module: hashlib loads OpenSSL first (about 4 ms)
            from _sha1 import sha1
        except ImportError:  # pragma: no cover - a Python built without it
            from hashlib import sha1

        self.client = client
        self.text = text
        self.sha = sha1(text.encode("utf-8")).hexdigest()

    def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return self.client.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return self.client.execute("EVAL", self.text, len(keys), *keys, *args)


class Client:
    """The commands L2 uses, named and answering as in ``redis.Redis`` (bytes)."""

    def __init__(self, address: _Address, *, timeout: float, connect_timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._idle: list[_Connection] = []

    def execute(self, *args: Any) -> Any:
        """Send one command, return its reply (a pooled connection, opened when none is idle).

        Raises:
            ResponseError: Redis answered with an error.
            RespError, OSError: no answer (the connection is closed).
        """
        for attempt in (0, 1):
            try:
                conn = self._idle.pop()  # atomic: each caller gets its own connection
                reused = True
            except IndexError:
                conn = _Connection(self.address, self.timeout, self.connect_timeout)
                reused = False
            try:
                reply = conn.command(args)
            except ResponseError:
                self._release(conn)
                raise
            except (OSError, RespError, ValueError) as exc:
                conn.close()
                # A reused connection may have been dropped while idle: once more, anew
                # (not after a timeout: the server is there but slow, and waiting twice
                # would only double the wait).
                timed_out = isinstance(exc, TimeoutError)
                if attempt == 0 and reused and not conn.replied and not timed_out:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            self._release(conn)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def _release(self, conn: _Connection) -> None:
        conn.replied = False
        if len(self._idle) < _MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()

    # -- the commands -------------------------------------------------------------
    def ping(self) -> bool:
        return self.execute("PING") == b"PONG"

    def get(self, key: str) -> bytes | None:
        reply: bytes | None = self.execute("GET", key)
        return reply

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        reply: list[bytes | None] = self.execute("MGET", *keys)
        return reply

    def set(self, key: str, value: Any, ex: int | None = None) -> bool:
        args: list[Any] = ["SET", key, value]
        if ex is not None:
            args += ["EX", int(ex)]
        return self.execute(*args) == b"OK"

    def delete(self, *keys: str) -> int:
        return int(self.execute("DEL", *keys))

    def publish(self, channel: str, message: Any) -> int:
        return int(self.execute("PUBLISH", channel, message))

    def info(self, section: str = "default") -> dict[str, str]:
        text = self.execute("INFO", section)
        found: dict[str, str] = {}
        for line in (text or b"").decode("utf-8", "replace").splitlines():
            if line and not line.startswith("#") and ":" in line:
                key, _, value = line.partition(":")
                found[key] = value
        return found

    def register_script(self, text: str) -> Script:
        return Script(self, text)

    def close(self) -> None:
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:
                break


def connect(url: str, *, timeout: float, connect_timeout: float | None = None) -> Client | None:
    """A client for ``url`` (no connection is made yet), or None for a URL it does not serve."""
    address = parse_url(url)
    if address is None:
        return None
    return Client(
        address,
        timeout=timeout,
        connect_timeout=timeout if connect_timeout is None else connect_timeout,
    )
