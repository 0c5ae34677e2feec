"""The settings model: every key refused with one line when bad, in config.toml and in the
environment; unknown keys with a suggestion; the README's table generated; and every CLI
argument's bad input (walking the real argparse parser) answered with one line and exit 2.

The table cases run the real CLI in-process (``claude_tui.cli.main.main(argv)``): process
isolation is not what they test, and the 700-odd cases run in seconds that way.
``worker --once`` runs as a real process, as the issue found it crashing.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_tui.cli.main import main
from claude_tui.cli.parser import build_parser
from claude_tui.cli.values import PATH_DESTS
from claude_tui.core.config import Config, model
from claude_tui.core.errors import ConfigError
from claude_tui.core.settings import MAX_TEXT, Setting
from tests.conftest import ROOT, cli_env
from tools import settings_table

MODEL = model()
PUBLIC = [s for s in MODEL if not s.internal]

# A value each checked text setting refuses (a new checked setting needs one here:
# test_every_setting_is_declared_whole fails until it has).
INVALID_TEXT = {
    "[redis] url": ["garbage", "http://host", "redis://host:port/0", "redis://"],
    "[sync] url": ["garbage", "redis://host:99999/0"],
    "[vectors] chroma_url": ["ftp://host", "http://host:nope", "http://"],
    "[vectors] embedder": ["garbage", "sentence-transformers:"],
    "[sqlite] synchronous": ["SOMETIMES"],
    "[backup] full_at": ["25:99", "noon", "1:2:3", "0002:00"],
    "[secrets] key_pattern": ["(unclosed"],
    "[secrets] value_pattern": ["[a-"],
    "[sync] swarm": ["a b", "x/y", "s" * 201],
}
# A valid value of each text, list and table setting, to load back.
VALID = {
    "[redis] url": "unix:///run/redis.sock",
    "[sync] url": "rediss://:pw@host:6380/0",
    "[vectors] chroma_url": "https://chroma.example:8443",
    "[vectors] embedder": "sentence-transformers:all-mpnet-base-v2",
    "[sqlite] synchronous": "NORMAL",
    "[backup] full_at": "23:59",
    "[backup] dir": "~/backups",
    "[backup] secondary_dir": "/mnt/usb/claude",
    "[secrets] key_pattern": "^pin",
    "[secrets] value_pattern": "ACME-[0-9]{6}",
    "[secrets] namespaces": ("vault", "keys"),
    "[sync] swarm": "team-1.a_b",
    "[sync] levels": {"memory:scratch": "batched", "patterns": "lazy"},
    "[keys]": {"memory.search": "ctrl+f", "quit": "ctrl+q"},
    "CLAUDE_TUI_ENCRYPTION_KEY": "x" * 44,
}
# CLAUDE_TUI_* variables that are no setting of config.toml (read where they are used).
PROCESS_VARIABLES = {
    "CLAUDE_TUI_DATA_DIR", "CLAUDE_TUI_DEBUG", "CLAUDE_TUI_HOOK_WORKER",
    "CLAUDE_TUI_HOOK_WORKER_IDLE", "CLAUDE_TUI_REDIS_SERVER", "CLAUDE_TUI_SESSION",
    "CLAUDE_TUI_AGENT", "CLAUDE_TUI_BIN", "CLAUDE_TUI_FAULT",
}  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CLAUDE_TUI_* of the test run's own environment leaks into a case."""
    import os

    for name in list(os.environ):
        if name.startswith("CLAUDE_TUI_"):
            monkeypatch.delenv(name)
    # A case that got past the config would open the data dir: never with a private Redis.
    monkeypatch.setenv("CLAUDE_TUI_REDIS", "off")


def test_every_setting_is_declared_whole() -> None:
    names = [s.name for s in PUBLIC if s.section]
    envs = [s.env for s in MODEL if s.env]
    assert len(names) == len(set(names)) and len(envs) == len(set(envs))
    assert not set(envs) & PROCESS_VARIABLES
    for s in MODEL:
        assert s.doc and s.kind, s
        assert s.env is None or s.env.startswith("CLAUDE_TUI_"), s
        if s.kind in ("int", "float"):  # every number is bounded: 1e300 must be refused
            assert s.le is not None and (s.ge is not None or s.gt is not None), s
        if s.check is not None or s.names is not None:
            assert s.allowed, f"{s.name}: say in words what it may be (the README shows it)"
        if s.kind == "text" and s.check is not None:
            assert s.name in INVALID_TEXT, f"{s.name}: add a refused example to INVALID_TEXT"
        if s.kind in ("list", "map") or (s.kind == "text" and (s.check or s.optional)):
            assert s.internal or s.name in VALID, f"{s.name}: add a valid example to VALID"
    # Every setting the issue and the old README named is still there, with its variable.
    kept = {s.name: s.env for s in MODEL}
    for name, env in {
        "[redis] url": "CLAUDE_TUI_REDIS_URL", "[redis] enabled": "CLAUDE_TUI_REDIS",
        "[redis] idle_seconds": "CLAUDE_TUI_REDIS_IDLE",
        "[memory] max_value_bytes": "CLAUDE_TUI_MAX_VALUE_BYTES",
        "[sqlite] synchronous": "CLAUDE_TUI_SYNCHRONOUS",
        "[sqlite] busy_timeout_ms": "CLAUDE_TUI_BUSY_TIMEOUT_MS",
        "[vectors] embedder": "CLAUDE_TUI_EMBEDDER",
        "[vectors] chroma_url": "CLAUDE_TUI_CHROMA_URL",
        "[backup] dir": "CLAUDE_TUI_BACKUP_DIR",
        "[backup] secondary_dir": "CLAUDE_TUI_BACKUP_SECONDARY_DIR",
        "[sync] url": "CLAUDE_TUI_SYNC_URL", "[sync] swarm": "CLAUDE_TUI_SYNC_SWARM",
        "CLAUDE_TUI_ENCRYPTION_KEY": "CLAUDE_TUI_ENCRYPTION_KEY",
    }.items():  # fmt: skip
        assert kept.get(name) == env, name


# -- values written as config.toml and as the environment spell them --------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value)  # a JSON string, number or array is TOML too


def toml_of(s: Setting, value: Any) -> str:
    """A config.toml giving ``value`` to ``s`` (a table setting as a TOML table)."""
    assert s.section is not None
    if s.kind == "map" and isinstance(value, dict):
        header = f"[{s.section}.{s.key}]" if s.key else f"[{s.section}]"
        body = "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in value.items())
        return f"{header}\n{body}"
    if s.key is None:
        return f"{s.section} = {toml_value(value)}\n"
    return f"[{s.section}]\n{s.key} = {toml_value(value)}\n"


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list | dict):
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    return str(value)


def low_edge(s: Setting) -> float:
    if s.ge is not None:
        return s.ge
    assert s.gt is not None
    return s.gt + (1 if s.kind == "int" else 0.001)


def valid_values(s: Setting) -> list[Any]:
    if s.kind in ("int", "float"):
        assert s.le is not None
        edges = [low_edge(s), s.le]
        return [int(v) for v in edges] if s.kind == "int" else [float(v) for v in edges]
    if s.kind == "bool":
        return [not s.default]
    if s.name in VALID:
        return [VALID[s.name]]
    return [s.default]


def bad_values(s: Setting, *, env: bool) -> list[tuple[str, Any]]:
    """(what is wrong, value) for ``s``: one of the wrong type, the rest out of range."""
    cases: list[tuple[str, Any]] = []
    if s.kind in ("int", "float"):
        assert s.le is not None
        below = s.ge - 1 if s.ge is not None else s.gt
        cases += [("type", "abc" if env else "5")]
        cases += [("range", v) for v in (s.le + 1, below, math.nan, math.inf, -math.inf, 1e300)]
        cases += [("range", s.le * 10**300)]  # a TOML integer no float can hold
        if s.kind == "int":
            cases += [("range", 1.5)]
    elif s.kind == "bool":
        cases += [("type", "maybe" if env else "yes"), ("type", "" if env else 1)]
        cases = [c for c in cases if c[1] != ""]  # an empty variable is unset
    elif s.kind == "text":
        cases += [] if env else [("type", 5), ("type", ["a"]), ("type", {"a": "b"})]
        if not s.path:
            # undecodable bytes (surrogateescape) in the environment; a NUL in the file
            cases += [("range", "bad\udcff" if env else "bad\x00")]
        elif not env:
            cases += [("range", "a\x00b")]
        cases += [("range", "x" * (MAX_TEXT + 1))]
        cases += [("range", bad) for bad in INVALID_TEXT.get(s.name, [])]
    elif s.kind == "list":
        cases += [("type", "abc"), ("type", ["ok", 5]), ("range", [""])]
        if not env:
            cases += [("type", 5)]
    else:
        cases += [("type", "5" if env else 5), ("type", {"x": 5}), ("range", {"x": ""})]
        if s.choices:
            cases += [("range", {"memory": "soon"}), ("range", {"agents:x": "lazy"})]
    if env:
        return [(what, env_value(v) if not isinstance(v, str) else v) for what, v in cases]
    return cases


def _ids(cases: list[tuple[Setting, str, Any]]) -> list[str]:
    return [f"{s.name}={v!r}"[:80] for s, _, v in cases]


TOML_CASES = [(s, what, v) for s in PUBLIC if s.section for what, v in bad_values(s, env=False)]
ENV_CASES = [(s, what, v) for s in PUBLIC if s.env for what, v in bad_values(s, env=True)]


def one_line(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}: {err!r}"
    lines = err.splitlines()
    assert out == "" and len(lines) == 1, err
    line = lines[0]
    assert line.startswith("claude-tui: ") and "internal error" not in line, line
    assert "Traceback" not in err
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    return line


@pytest.mark.parametrize(("s", "what", "value"), TOML_CASES, ids=_ids(TOML_CASES))
def test_a_bad_value_in_config_toml_is_one_line_naming_file_section_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], s: Setting, what: str, value: Any
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(toml_of(s, value), encoding="utf-8")
    code = main(["--data-dir", str(data), "memory", "list"])
    line = one_line(capsys, code, f"{data / 'config.toml'}: ", s.name)
    assert sorted(p.name for p in data.iterdir()) == ["config.toml"]  # nothing opened
    if what == "type":
        assert "must be" in line


@pytest.mark.parametrize(("s", "what", "value"), ENV_CASES, ids=_ids(ENV_CASES))
def test_a_bad_value_in_the_environment_is_one_line_naming_the_variable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    s: Setting,
    what: str,
    value: str,
) -> None:
    assert s.env is not None
    monkeypatch.setenv(s.env, value)
    data = tmp_path / "data"
    code = main(["--data-dir", str(data), "memory", "list"])
    line = one_line(capsys, code, s.env, *([s.name] if s.section else []))
    assert not data.exists()
    if s.secret:
        assert value not in line and "not " not in line.split(" must ")[-1]


@pytest.mark.parametrize("s", [s for s in PUBLIC if s.section], ids=lambda s: s.name)
def test_every_good_value_loads_from_the_file_and_from_the_environment(
    tmp_path: Path, s: Setting
) -> None:
    for value in valid_values(s):
        (tmp_path / "config.toml").write_text(toml_of(s, value), encoding="utf-8")
        from_file = Config.load(tmp_path, env={})
        (tmp_path / "config.toml").unlink()
        assert s.env is not None
        from_env = Config.load(tmp_path, env={s.env: env_value(value)})
        for config in (from_file, from_env):
            got = config
            for part in s.field.split("."):
                got = getattr(got, part)
            assert got == value and type(got) is type(value), (s.name, value, got)


def test_the_environment_wins_over_the_file_and_code_over_both(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[sqlite]\nbusy_timeout_ms = 100\n[cache]\n"
                                          "l2_ttl_seconds = 7\n")  # fmt: skip
    assert Config.load(tmp_path, env={}).busy_timeout_ms == 100
    assert Config.load(tmp_path, env={}).cache.l2_ttl_seconds == 7.0
    env = {"CLAUDE_TUI_BUSY_TIMEOUT_MS": "200", "CLAUDE_TUI_CACHE_L2_TTL_SECONDS": "8"}
    assert Config.load(tmp_path, env=env).busy_timeout_ms == 200
    assert Config.load(tmp_path, env=env).cache.l2_ttl_seconds == 8.0
    assert Config.load(tmp_path, env=env, busy_timeout_ms=300).busy_timeout_ms == 300
    assert Config.load(tmp_path, env={"CLAUDE_TUI_BUSY_TIMEOUT_MS": ""}).busy_timeout_ms == 100
    assert Config.load(tmp_path, env={}, busy_timeout_ms=5.0).busy_timeout_ms == 5
    with pytest.raises(ConfigError, match=r"^busy_timeout_ms \(\[sqlite\] busy_timeout_ms\) must"):
        Config.load(tmp_path, env={}, busy_timeout_ms=-1)
    with pytest.raises(ConfigError, match=r"^write_patience_seconds must be between 0 and 3,600"):
        Config.load(tmp_path, env={}, write_patience_seconds=4_000)


UNKNOWN = [
    ("[sqlite]\nbusy_timeout = 5\n", "unknown setting [sqlite] busy_timeout (did you mean "
     "busy_timeout_ms?)"),
    ("[sqllite]\nbusy_timeout_ms = 5\n", "unknown section or setting 'sqllite' (did you mean "
     "[sqlite]?)"),
    ("[redis]\nbusy_timeout_ms = 5\n", "unknown setting [redis] busy_timeout_ms (did you mean "
     "[sqlite] busy_timeout_ms?)"),
    ('synchronous = "FULL"\n', "unknown setting 'synchronous' outside a section (did you mean "
     "[sqlite] synchronous?)"),
    ("[cache]\nl2_ttl = 5\n", "unknown setting [cache] l2_ttl (did you mean l2_ttl_seconds?)"),
    ("[backup]\nkeep_full = 5\n", "(did you mean keep_full_days?)"),
    ("[memory]\nmax_value_bytez = 10\n", "(did you mean max_value_bytes?)"),
    ("colour = 'blue'\n", "unknown section or setting 'colour' (sections: redis, memory, "),
    ("[recall]\nzzz = 1\n", "unknown setting [recall] zzz ([recall] has enabled, budget_tokens, "),
    ("[redis]\nwrite_patience_seconds = 1\n", "unknown setting [redis] write_patience_seconds"),
    ("redis = 5\n", "[redis] must be a section, not 5"),
]  # fmt: skip


@pytest.mark.parametrize(("toml", "expected"), UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_an_unknown_section_or_key_is_refused_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, expected: str
) -> None:
    (tmp_path / "config.toml").write_text(toml)
    code = main(["--data-dir", str(tmp_path), "doctor"])
    one_line(capsys, code, f"{tmp_path / 'config.toml'}: ", expected)


def test_keys_take_dotted_ids_quoted_or_not(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[keys]\n"memory.search" = "ctrl+f"\ntask.filter = " f3 "\nquit = "ctrl+q"\n'
    )
    keys = Config.load(tmp_path, env={}).keys
    assert keys == {"memory.search": "ctrl+f", "task.filter": "f3", "quit": "ctrl+q"}
    env = {"CLAUDE_TUI_KEYS": '{"memory.search": "f2"}'}
    assert Config.load(tmp_path, env=env).keys == {"memory.search": "f2"}


def test_a_message_never_repeats_a_password_or_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text('[sync]\nurl = "redis://:hunter2@host:port/0"\n')
    line = one_line(capsys, main(["--data-dir", str(tmp_path), "doctor"]), "[sync] url")
    assert "hunter2" not in line and ":***@" in line
    (tmp_path / "config.toml").unlink()
    monkeypatch.setenv("CLAUDE_TUI_ENCRYPTION_KEY", "s3cret\udcff")
    line = one_line(capsys, main(["--data-dir", str(tmp_path), "doctor"]), "ENCRYPTION_KEY")
    assert "s3cret" not in line


def test_the_readme_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table.current(readme) == settings_table.generated(), (
        "README.md's settings table is out of date: run make docs"
    )
    for s in PUBLIC:  # and it documents every setting
        assert f"`{s.env}`" in settings_table.current(readme), s.name


WORKER_CASES = [
    "[backup]\ndir = 5\n",
    '[secrets]\nnamespaces = "abc"\n',
    "[vectors]\nchroma_url = 5\n",
    "[backup]\nincremental_minutes = 1e300\n",
    "[checkpoints]\nkeep = 1.5\n",
    '[backup]\ndir = "a\\u0000b"\n',
    "[scheduler]\npurge_interval_seconds = nan\n",
]


@pytest.mark.parametrize("toml", WORKER_CASES)
def test_worker_once_never_crashes_on_config(tmp_path: Path, toml: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(toml)
    result = subprocess.run(
        [sys.executable, "-m", "claude_tui", "worker", "--once"],
        env=cli_env(data, None), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2, result
    [line] = result.stderr.splitlines()
    assert line.startswith(f"claude-tui: {data / 'config.toml'}: [") and "internal" not in line


def test_worker_once_runs_on_the_edges_of_every_range(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(
        f'[backup]\ndir = "{tmp_path / "b"}"\nincremental_minutes = 527040\nfull_at = "0:00"\n'
        "keep_full_days = 3660\n[checkpoints]\nkeep = 100000\ninterval_minutes = 0.001\n"
        '[scheduler]\npurge_interval_seconds = 86400\n[secrets]\nnamespaces = ["vault"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "claude_tui", "worker", "--once"],
        env=cli_env(data, None), capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ran "), result.stdout


# -- every CLI argument: bad input is one line and exit 2 ---------------------------


def _leaves(
    parser: argparse.ArgumentParser, path: list[str]
) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _leaves(child, [*path, name])


def _takes_value(action: argparse.Action) -> bool:
    return not isinstance(
        action,
        argparse._SubParsersAction | argparse._HelpAction | argparse._VersionAction
        | argparse._StoreConstAction | argparse._StoreTrueAction | argparse._StoreFalseAction
        | argparse._CountAction | argparse._AppendConstAction,
    )  # fmt: skip


def _good(action: argparse.Action) -> str:
    if action.choices:
        return str(next(iter(action.choices)))
    if action.type not in (None, str):
        return "1"
    return "x"


def _argv_for(action: argparse.Action, value: str, others: list[argparse.Action]) -> list[str]:
    """Arguments giving ``value`` to ``action`` and good values to the other required ones."""
    argv: list[str] = []
    for other in others:
        given = value if other is action else _good(other)
        if other.option_strings:
            if other is action or other.required:
                argv += [other.option_strings[0], given]
        elif other is action or other.nargs in (None, "+") or isinstance(other.nargs, int):
            argv.append(given)
    return argv


def _named(action: argparse.Action) -> list[str]:
    names = list(action.option_strings) or [str(action.metavar or action.dest)]
    return [n.upper() if not action.option_strings else n for n in names] + [action.dest]


def cli_cases() -> list[tuple[str, list[str], list[str]]]:
    """(case id, argv after the command path, words the line may name) for every argument."""
    cases = []
    for path, parser in _leaves(build_parser(), []):
        if path[:1] == ["hook"]:
            continue  # a hook fails open by design: exit 0, nothing printed (test_hooks)
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions) and path:
            continue  # a command group: its leaves have the arguments
        actions = [a for a in parser._actions if _takes_value(a)]
        for action in actions:
            if action.dest == "data_dir":
                continue
            bad: list[str] = []
            if action.choices:
                bad.append("zombie")
            elif action.type not in (None, str):
                bad += ["abc", "nan", "1e999"]
            elif action.dest not in PATH_DESTS:
                bad.append("k\udcff")  # an undecodable byte, as Python hands argv over
            for value in bad:
                argv = [*path, *_argv_for(action, value, actions)]
                cases.append((f"{' '.join(path) or 'app'} {action.dest}={value!r}", argv,
                              _named(action)))  # fmt: skip
    return cases


CLI_CASES = cli_cases()


def test_the_cli_table_covers_every_command() -> None:
    commands = {tuple(argv[:2]) for _, argv, _ in CLI_CASES}
    assert len(CLI_CASES) > 80 and len(commands) > 30, (len(CLI_CASES), len(commands))


@pytest.mark.parametrize(("case", "argv", "names"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_a_bad_argument_of_any_command_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, argv: list[str],
    names: list[str],
) -> None:  # fmt: skip
    data = tmp_path / "data"
    code = main(["--data-dir", str(data), *argv])
    line = one_line(capsys, code)
    assert any(name in line for name in names), (case, line)
    assert not data.exists()  # refused before the data dir was opened
