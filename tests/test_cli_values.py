"""User data from stdin (``-``) or a file (``@FILE``), so secrets stay off the command line.

Stdin and /proc are exercised through real ``python -m claude_tui`` subprocesses;
everything else calls :func:`claude_tui.cli.main.main` in-process on a temp data
dir with Redis off. Refused input must exit 2 with one stderr line and write
nothing (the database rows and change-log head are compared).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from claude_tui.cli.main import main
from claude_tui.cli.parser import build_parser
from claude_tui.cli.values import HELP_HINT, USER_VALUES, resolve_user_values, resolve_value
from claude_tui.core.errors import BadInput
from tests.conftest import HOOK_WORKER_OFF, ROOT, cli_env, run_cli
from tests.test_cli import error_line

DB_NAME = "claude-tui.db"
SECRET = "s3cret-Tok3n with spaces"


# -- helpers ----------------------------------------------------------------


def cli_stdin(
    data_dir: Path, *args: str, stdin: bytes, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``run_cli`` from conftest, with ``stdin`` as the child's standard input."""
    full_env = cli_env(data_dir, None)
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "claude_tui", *args],
        env=full_env,
        input=stdin,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def ok(data_dir: Path, *args: str) -> str:
    result = run_cli(data_dir, *args, check=True)
    assert "Traceback" not in result.stderr
    return result.stdout.strip()


def stored(data_dir: Path, key: str, session: str) -> Any:
    """The value of ``key`` as ``memory get --json`` reports it."""
    return json.loads(ok(data_dir, "memory", "get", key, "--session", session, "--json"))["value"]


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, one ``claude-tui:`` line on stderr naming ``words``, no traceback."""
    return error_line(result, 2, *words)


def db_state(data_dir: Path) -> dict[str, Any]:
    """Change-log head and every row of the tables a refused command must not touch."""
    with closing(sqlite3.connect(data_dir / DB_NAME)) as conn:
        state: dict[str, Any] = {
            "max_seq": conn.execute("SELECT max(seq) FROM change_log").fetchone()[0]
        }
        for table in ("sessions", "tasks", "memory_entries", "change_log"):
            state[table] = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    return state


@pytest.fixture
def session(data_dir: Path) -> str:
    return ok(data_dir, "session", "new")


@pytest.fixture
def inproc(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Let in-process ``main()`` use ``data_dir`` with Redis off, like ``cli_env``."""
    for name in [n for n in os.environ if n.startswith("CLAUDE_TUI_") and n not in HOOK_WORKER_OFF]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CLAUDE_TUI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLAUDE_TUI_REDIS", "off")
    return data_dir


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- stdin (real subprocesses) ----------------------------------------------


def test_memory_store_reads_value_from_stdin(data_dir: Path, session: str) -> None:
    result = cli_stdin(
        data_dir, "memory", "store", "deploy_token", "-", "--session", session,
        stdin=f"{SECRET}\n".encode(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stored(data_dir, "deploy_token", session) == SECRET
    assert ok(data_dir, "memory", "get", "deploy_token", "--session", session) == SECRET


def test_stdin_loses_one_trailing_newline_only_and_is_still_parsed_as_json(
    data_dir: Path, session: str
) -> None:
    for key, raw, want in [
        ("two_newlines", b"line\n\n", "line\n"),
        ("crlf", b"dos line\r\n", "dos line"),
        ("json", b'{"steps": 3}\n', {"steps": 3}),
        ("empty", b"", ""),
    ]:
        result = cli_stdin(data_dir, "memory", "store", key, "-", "--session", session, stdin=raw)
        assert result.returncode == 0, result.stderr
        assert stored(data_dir, key, session) == want, key


def test_task_add_title_from_stdin(data_dir: Path, session: str) -> None:
    result = cli_stdin(data_dir, "task", "add", "--session", session, "-", stdin=b"Rotate keys\n")
    assert result.returncode == 0, result.stderr
    tasks = json.loads(ok(data_dir, "task", "list", "--session", session, "--json"))
    assert [(t["id"], t["title"]) for t in tasks] == [(result.stdout.strip(), "Rotate keys")]


def test_two_values_from_stdin_are_refused_and_nothing_written(
    data_dir: Path, session: str
) -> None:
    before = db_state(data_dir)
    result = cli_stdin(
        data_dir, "task", "add", "--session", session, "-", "--payload", "-", stdin=b"{}\n"
    )
    refused(result, "stdin", "TITLE", "--payload")
    assert db_state(data_dir) == before


def test_stdin_over_the_value_limit_is_refused(data_dir: Path, session: str) -> None:
    before = db_state(data_dir)
    result = cli_stdin(
        data_dir, "memory", "store", "big", "-", "--session", session,
        stdin=b"x" * 5000, env={"CLAUDE_TUI_MAX_VALUE_BYTES": "100"},
    )  # fmt: skip
    refused(result, "VALUE", "stdin", "over the limit", "100")
    assert db_state(data_dir) == before


def _cmdline(pid: int) -> list[bytes]:
    """The child's argv from /proc, once exec has set it up.

    Popen returns when exec closes the child's fds, a moment before the kernel
    fills in the new argv (cmdline reads empty until then): retry, briefly.
    """
    deadline = time.monotonic() + 10
    while not (raw := Path(f"/proc/{pid}/cmdline").read_bytes()) and time.monotonic() < deadline:
        os.sched_yield()
    return raw.split(b"\0")


def test_secret_from_stdin_never_appears_in_proc_cmdline(data_dir: Path, session: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_tui", "memory", "store", "deploy_token", "-",
         "--session", session],
        env=cli_env(data_dir, None), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        # the child cannot finish before its stdin closes, so it is waiting for the secret
        cmdline = _cmdline(proc.pid)
        assert proc.poll() is None
        out, err = proc.communicate(f"{SECRET}\n".encode(), timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"deploy_token" in cmdline and b"-" in cmdline  # the right process...
    assert not any(SECRET.encode() in arg for arg in cmdline)  # ...without the secret
    assert proc.returncode == 0, err.decode()
    assert SECRET.encode() not in out  # prints the entry id, not the value
    assert stored(data_dir, "deploy_token", session) == SECRET


# -- files and escapes (in-process) -----------------------------------------


def test_memory_store_reads_value_from_file(
    inproc: Path, session: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(f"{SECRET}\n")
    code, _, err = run_main(
        capsys, "memory", "store", "api", f"@{secret_file}", "--session", session
    )
    assert code == 0, err
    code, out, err = run_main(capsys, "memory", "get", "api", "--session", session)
    assert (code, out) == (0, f"{SECRET}\n"), err


def test_double_at_stores_one_literal_at(
    inproc: Path, session: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(capsys, "memory", "store", "handle", "@@alice", "--session", session)[0] == 0
    assert run_main(capsys, "task", "add", "--session", session, "@@@triple")[0] == 0
    assert stored(inproc, "handle", session) == "@alice"
    titles = [
        t["title"] for t in json.loads(ok(inproc, "task", "list", "--session", session, "--json"))
    ]
    assert titles == ["@@triple"]


def test_task_payload_from_file(
    inproc: Path, session: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text('{"repo": "x", "steps": [1, 2]}\n')
    code, out, err = run_main(
        capsys, "task", "add", "--session", session, "deploy", "--payload", f"@{payload}"
    )
    assert code == 0, err
    [task] = json.loads(ok(inproc, "task", "list", "--session", session, "--json"))
    assert task["id"] == out.strip()
    assert task["payload"] == {"repo": "x", "steps": [1, 2]}


def test_session_name_from_stdin_and_checkpoint_label_from_file(
    inproc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"private name\n")))
    code, out, err = run_main(capsys, "session", "new", "--name", "-")
    assert code == 0, err
    session = out.strip()
    [listed] = json.loads(ok(inproc, "session", "list", "--json"))
    assert (listed["id"], listed["name"]) == (session, "private name")

    label = tmp_path / "label"
    label.write_text("before the migration\n")
    code, out, err = run_main(capsys, "session", "checkpoint", session, "--label", f"@{label}")
    assert code == 0, err
    found = json.loads(ok(inproc, "session", "checkpoints", session, "--json"))
    assert [(cp["id"], cp["label"]) for cp in found] == [(out.strip(), "before the migration")]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "missing.txt", ("cannot read", "VALUE", "missing.txt", "no such file")),
        (lambda d: d, ("cannot read", "VALUE", "directory")),
        (
            lambda d: (d / "latin1.txt", (d / "latin1.txt").write_bytes(b"caf\xe9\n"))[0],
            ("VALUE", "latin1.txt", "UTF-8"),
        ),
        (
            lambda d: (d / "big.txt", (d / "big.txt").write_bytes(b"y" * 101))[0],
            ("VALUE", "big.txt", "over the limit", "100"),
        ),
    ],
    ids=["missing", "directory", "invalid-utf8", "too-large"],
)
def test_unusable_value_file_exits_2_in_one_line_and_writes_nothing(
    data_dir: Path, session: str, tmp_path: Path, make: Any, words: tuple[str, ...]
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    path = make(files)
    before = db_state(data_dir)
    result = cli_stdin(
        data_dir, "memory", "store", "k", f"@{path}", "--session", session,
        stdin=b"", env={"CLAUDE_TUI_MAX_VALUE_BYTES": "100"},
    )  # fmt: skip
    refused(result, *words)
    assert db_state(data_dir) == before


def test_a_bad_file_refuses_the_whole_command(
    inproc: Path, session: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "title.txt"
    good.write_text("fine title")
    before = db_state(inproc)
    code, out, err = run_main(
        capsys, "task", "add", "--session", session, f"@{good}", "--payload", "@/nonexistent/p"
    )
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "--payload" in err and "/nonexistent/p" in err
    assert db_state(inproc) == before


# -- the resolver and the table ---------------------------------------------


def test_resolve_value_cases(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"from file\n")
    limit = {"max_bytes": 100}
    assert resolve_value("plain", "X", **limit) == "plain"
    assert resolve_value("-x", "X", **limit) == "-x"  # only a lone '-' means stdin
    assert resolve_value("a@b", "X", **limit) == "a@b"
    assert resolve_value("@@", "X", **limit) == "@"
    assert resolve_value(f"@{tmp_path / 'f'}", "X", **limit) == "from file"
    assert resolve_value("-", "X", stdin=io.BytesIO(b"piped\n"), **limit) == "piped"
    assert resolve_value("-", "X", stdin=io.BytesIO(b"x" * 100 + b"\r\n"), **limit) == "x" * 100
    with pytest.raises(BadInput, match="over the limit"):
        resolve_value("-", "X", stdin=io.BytesIO(b"x" * 101 + b"\n"), **limit)
    with pytest.raises(BadInput, match="no file name"):
        resolve_value("@", "X", **limit)


def test_keys_and_ids_stay_literal() -> None:
    args = build_parser().parse_args(["memory", "get", "@key", "--session", "-"])
    resolve_user_values(args, max_bytes=100, stdin=io.BytesIO(b"unused"))
    assert (args.key, args.session) == ("@key", "-")


def _option(parser: argparse.ArgumentParser, words: list[str]) -> dict[str, argparse.Action]:
    """The actions (by dest) of the subparser reached by ``words``."""
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return {a.dest: a for a in parser._actions}


def test_every_user_value_exists_and_its_help_says_so() -> None:
    parser = build_parser()
    for command, action, dest, name in USER_VALUES:
        arg = _option(parser, [command, action]).get(dest)
        assert arg is not None, (command, action, dest)
        assert name in arg.option_strings or name == dest.upper(), (command, action, name)
        assert arg.help and HELP_HINT in arg.help, (command, action, dest)
