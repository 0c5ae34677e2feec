"""``claude-tui install|uninstall claude-code``: Claude Code's settings files, merged and restored.

The functions get a temp home and project passed in; the CLI runs as a child
process with ``HOME`` pointing at a temp dir. The last tests run the real
Claude Code CLI (``claude mcp list``, ``claude plugin validate``) against the
files we wrote.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from claude_tui.core.errors import BadInput
from claude_tui.core.integrations import claude_code_settings as ccs
from tests.claude_code_cli import find_claude
from tests.cli_run import run_in_process
from tests.conftest import ROOT

PY = "/opt/claude tui/venv/bin/python"  # a space: commands must be quoted
DATA = "/srv/claude-tui data"
CLIENT = shlex.quote(str(ccs.hook_client()))
EVENTS = [event for event, _ in ccs.HOOK_EVENTS]


# -- helpers -----------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path.resolve()


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, data: Any, *, mode: int | None = None) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = (json.dumps(data, indent=2) + "\n").encode()
    path.write_bytes(raw)
    if mode is not None:
        path.chmod(mode)
    return raw


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def install(home: Path, scope: str = "user", project: Path | None = None, **kw: Any) -> ccs.Plan:
    kw.setdefault("python", PY)
    kw.setdefault("data_dir", DATA)
    return ccs.install(scope, home=home, project=project, **kw)


def uninstall(home: Path, scope: str = "user", project: Path | None = None) -> ccs.Plan:
    return ccs.uninstall(scope, home=home, project=project)


def our_hooks(settings: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [h for g in settings["hooks"][event] for h in g["hooks"] if ccs.is_our_hook(h)]


def cli_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAUDE_TUI_", "CLAUDE_CODE", "CLAUDECODE", "ANTHROPIC_", "XDG_"))
        and k != "CLAUDE_CONFIG_DIR"
    }
    env.update(HOME=str(home), CLAUDE_TUI_REDIS="off", CLAUDE_TUI_HOOK_WORKER="0")
    return env


def cli(
    home: Path, data_dir: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``claude-tui --data-dir DATA args`` run through ``main`` here (tests/cli_run.py)."""
    return run_in_process(["--data-dir", str(data_dir), *args], cli_env(home), cwd=cwd or ROOT)


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under the roots with its sha256: proof that nothing was written."""
    return {str(p): sha(p) for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


# -- fresh installs -------------------------------------------------------------


def test_fresh_user_install_writes_hooks_and_server(home: Path) -> None:
    plan = install(home)
    assert plan.changed
    settings_path, config_path = home / ".claude" / "settings.json", home / ".claude.json"
    settings = load(settings_path)
    assert list(settings["hooks"]) == EVENTS
    for event, timeout in ccs.HOOK_EVENTS:
        assert settings["hooks"][event] == [
            {
                "matcher": "",
                "hooks": [
                    {
                        "type": "command",
                        "timeout": timeout,
                        "command": f"'{PY}' -I -S {CLIENT} --data-dir '{DATA}' {event}",
                    }
                ],
            }
        ]
    assert settings["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] == 10
    assert settings["hooks"]["Stop"][0]["hooks"][0]["timeout"] == 30
    assert load(config_path) == {
        "mcpServers": {
            "claude-tui": {
                "type": "stdio",
                "command": PY,
                "args": ["-m", "claude_tui", "--data-dir", DATA, "mcp"],
                "env": {},
            }
        }
    }
    for path in (settings_path, config_path):  # new files: 0600, indent 2, final newline
        assert mode_of(path) == 0o600
        assert path.read_text() == json.dumps(load(path), indent=2) + "\n"
        assert not path.with_name(path.name + ccs.BACKUP_SUFFIX).exists()  # nothing to back up


def test_fresh_project_install_writes_hooks_server_and_approval(home: Path, project: Path) -> None:
    install(home, "project", project)
    settings = load(project / ".claude" / "settings.json")
    assert list(settings["hooks"]) == EVENTS
    assert load(project / ".mcp.json")["mcpServers"]["claude-tui"]["args"][-1] == "mcp"
    assert load(project / ".claude" / "settings.local.json") == {
        "enabledMcpjsonServers": ["claude-tui"]
    }
    assert not (home / ".claude").exists() and not (home / ".claude.json").exists()
    for name in (".claude/settings.json", ".mcp.json", ".claude/settings.local.json"):
        assert mode_of(project / name) == 0o600


def test_claude_config_dir_replaces_dot_claude(home: Path, tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    install(home, config_dir=config_dir)
    assert (config_dir / "settings.json").is_file() and (config_dir / ".claude.json").is_file()
    assert not (home / ".claude").exists() and not (home / ".claude.json").exists()


# -- merging ------------------------------------------------------------------------


def test_merge_keeps_the_users_entries_and_their_order(home: Path) -> None:
    user_stop = {"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]}
    bash_guard = {"matcher": "Bash", "hooks": [{"type": "command", "command": "guard.sh"}]}
    settings_path = home / ".claude" / "settings.json"
    original = write(
        settings_path,
        {
            "model": "opus",
            "hooks": {"PreToolUse": [bash_guard], "Stop": [user_stop]},
            "permissions": {"allow": ["Bash(ls)"]},
        },
        mode=0o644,
    )
    config_path = home / ".claude.json"
    other = {"type": "stdio", "command": "node", "args": ["other.js"], "env": {"K": "v"}}
    config_original = write(
        config_path,
        {
            "userID": "u123",
            "projects": {"/w": {"hasTrustDialogAccepted": True}},
            "mcpServers": {"other": other},
            "numStartups": 7,
        },
    )

    install(home)

    settings = load(settings_path)
    assert list(settings) == ["model", "hooks", "permissions"]
    assert settings["permissions"] == {"allow": ["Bash(ls)"]}
    assert list(settings["hooks"])[:2] == ["PreToolUse", "Stop"]
    assert settings["hooks"]["PreToolUse"] == [bash_guard]
    assert settings["hooks"]["Stop"][0] == user_stop  # the user's group first, untouched
    assert len(our_hooks(settings, "Stop")) == 1
    assert all(len(our_hooks(settings, e)) == 1 for e in EVENTS)
    config = load(config_path)
    assert list(config) == ["userID", "projects", "mcpServers", "numStartups"]
    assert config["projects"] == {"/w": {"hasTrustDialogAccepted": True}}
    assert list(config["mcpServers"]) == ["other", "claude-tui"]
    assert config["mcpServers"]["other"] == other
    # each original is kept beside its file, private
    for path, raw in ((settings_path, original), (config_path, config_original)):
        backup = path.with_name(path.name + ccs.BACKUP_SUFFIX)
        assert backup.read_bytes() == raw
        assert mode_of(backup) == 0o600
    assert mode_of(settings_path) == 0o644  # the file's own mode is kept


def test_second_install_changes_nothing_and_says_so(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = cli(home, data, "install", "claude-code")
    assert first.returncode == 0, first.stderr
    before = snapshot(home)
    second = cli(home, data, "install", "claude-code")
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert snapshot(home) == before
    assert not install(
        home, python=os.path.abspath(sys.executable), data_dir=str(data.resolve())
    ).changed
    # what the CLI registers: this Python as given (a venv's python is a symlink: not
    # resolved), the data dir resolved
    server = load(home / ".claude.json")["mcpServers"]["claude-tui"]
    assert server["command"] == os.path.abspath(sys.executable)
    assert server["args"] == ["-m", "claude_tui", "--data-dir", str(data.resolve()), "mcp"]
    assert not data.exists()  # install never opens (or creates) the data dir


def test_outdated_entries_are_updated_in_place(home: Path) -> None:
    install(home, python="/old/python", data_dir="/old/data")
    settings_path = home / ".claude" / "settings.json"
    settings = load(settings_path)
    # the user moved our PostToolUse hook under a matcher and added one of theirs beside it
    settings["hooks"]["PostToolUse"][0]["matcher"] = "Edit|Write"
    settings["hooks"]["PostToolUse"][0]["hooks"].append({"type": "command", "command": "fmt.sh"})
    # a duplicate of ours, and one on an event we no longer hook
    settings["hooks"]["Stop"].append(json.loads(json.dumps(settings["hooks"]["Stop"][0])))
    settings["hooks"]["Notification"] = [json.loads(json.dumps(settings["hooks"]["Stop"][0]))]
    settings_path.write_text(json.dumps(settings, indent=2) + "\n")
    config_path = home / ".claude.json"
    config = load(config_path)
    config["mcpServers"] = {"a": {"command": "a"}, **config["mcpServers"], "z": {"command": "z"}}
    config["mcpServers"]["claude-tui"]["env"] = {"CLAUDE_TUI_REDIS_URL": "redis://x"}
    config_path.write_text(json.dumps(config, indent=2) + "\n")

    plan = install(home)

    assert plan.changed
    settings = load(settings_path)
    post = settings["hooks"]["PostToolUse"]
    assert len(post) == 1 and post[0]["matcher"] == "Edit|Write"
    assert post[0]["hooks"][0]["command"] == ccs.hook_command(PY, DATA, "PostToolUse")
    assert post[0]["hooks"][1] == {"type": "command", "command": "fmt.sh"}
    assert len(settings["hooks"]["Stop"]) == 1  # the duplicate and its emptied group went
    assert "Notification" not in settings["hooks"]
    assert all(
        h["command"] == ccs.hook_command(PY, DATA, e)
        for e in EVENTS
        for h in our_hooks(settings, e)
    )
    servers = load(config_path)["mcpServers"]
    assert list(servers) == ["a", "claude-tui", "z"]
    assert servers["claude-tui"] == {
        "type": "stdio",
        "command": PY,
        "args": ["-m", "claude_tui", "--data-dir", DATA, "mcp"],
        "env": {"CLAUDE_TUI_REDIS_URL": "redis://x"},
    }
    # the backup is still the file from before the first install (there was none)
    assert not settings_path.with_name("settings.json" + ccs.BACKUP_SUFFIX).exists()
    assert not install(home).changed


def test_a_hand_made_claude_tui_server_is_adopted(home: Path) -> None:
    config_path = home / ".claude.json"
    original = write(
        config_path,
        {
            "mcpServers": {
                "claude-tui": {
                    "command": "/x/.venv/bin/claude-tui",
                    "args": ["mcp", "--session", "ses_1"],
                }
            }
        },
    )
    install(home)
    assert load(config_path)["mcpServers"]["claude-tui"]["command"] == PY
    uninstall(home)
    assert config_path.read_bytes() == original  # it comes back as it was


def test_a_foreign_claude_tui_server_is_refused(home: Path, tmp_path: Path) -> None:
    config_path = home / ".claude.json"
    write(config_path, {"mcpServers": {"claude-tui": {"command": "node", "args": ["srv.js"]}}})
    before = snapshot(home)
    with pytest.raises(BadInput, match="claude-tui"):
        install(home)
    result = cli(home, tmp_path / "data", "install", "claude-code")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert str(config_path) in result.stderr and "node srv.js" in result.stderr
    assert snapshot(home) == before  # nor was settings.json created
    # uninstall leaves it too, and says so
    result = cli(home, tmp_path / "data", "uninstall", "claude-code")
    assert result.returncode == 0 and "not claude-tui" in result.stderr
    assert snapshot(home) == before


@pytest.mark.parametrize("scope", ["user", "project"])
def test_invalid_json_is_refused_and_nothing_is_written(
    home: Path, project: Path, tmp_path: Path, scope: str
) -> None:
    broken = project / ".mcp.json" if scope == "project" else home / ".claude.json"
    broken.write_text('{"mcpServers": {')
    before = snapshot(home, project)
    flags = ["--scope", "project", "--project", str(project)] if scope == "project" else []
    for verb in ("install", "uninstall"):
        result = cli(home, tmp_path / "data", verb, "claude-code", *flags)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1, result.stderr
        assert str(broken) in result.stderr and "not valid JSON" in result.stderr
        assert result.stdout == ""
        assert snapshot(home, project) == before  # the other files were not written either


def test_a_wrong_shape_is_refused(home: Path) -> None:
    write(home / ".claude" / "settings.json", {"hooks": {"Stop": {"not": "a list"}}})
    with pytest.raises(BadInput, match=r"hooks\.Stop"):
        install(home)
    assert not (home / ".claude.json").exists()


# -- dry run --------------------------------------------------------------------------


def test_dry_run_prints_diffs_and_writes_nothing(home: Path, project: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    write(project / ".mcp.json", {"mcpServers": {"other": {"command": "x"}}})
    before = snapshot(home, project)
    result = cli(
        home, data, "install", "claude-code", "--scope", "project", "--dry-run", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert snapshot(home, project) == before
    out = result.stdout
    assert f"--- /dev/null\n+++ {project / '.claude' / 'settings.json'}\n" in out
    assert f"--- {project / '.mcp.json'}\n+++ {project / '.mcp.json'}\n" in out
    assert f"--- /dev/null\n+++ {project / '.claude' / 'settings.local.json'}\n" in out
    assert '+    "claude-tui": {' in out and '+  "enabledMcpjsonServers": [' in out
    assert [line[:4] for line in out.splitlines() if line.startswith("+++")] == ["+++ "] * 3

    assert (
        cli(home, data, "install", "claude-code", "--scope", "project", cwd=project).returncode == 0
    )
    installed = snapshot(home, project)
    result = cli(home, data, "uninstall", "claude-code", "--project", str(project), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert snapshot(home, project) == installed
    assert "+++ /dev/null" in result.stdout and '-    "claude-tui": {' in result.stdout
    again = cli(home, data, "install", "claude-code", "--dry-run", "--project", str(project))
    assert again.returncode == 0 and again.stdout.startswith("nothing to change")


# -- uninstall ------------------------------------------------------------------------


def test_uninstall_restores_the_original_bytes(home: Path) -> None:
    settings_path = home / ".claude" / "settings.json"
    settings_path.parent.mkdir()
    # not the way we would write it: 4 spaces, no final newline, non-ASCII
    original = '{\n    "theme": "dark",  "note": "caf\u00e9",\n    "hooks": {"Stop": []}}'
    settings_path.write_bytes(original.encode())
    settings_path.chmod(0o640)
    config_path = home / ".claude.json"
    config_path.write_bytes(b'{"userID":"u","mcpServers":{}}')
    config_path.chmod(0o600)
    sums = {settings_path: sha(settings_path), config_path: sha(config_path)}

    install(home)
    assert mode_of(settings_path) == 0o640
    assert not settings_path.read_text().endswith("\n")  # the file's convention is kept
    assert load(settings_path)["hooks"]["Stop"][0]["hooks"][0]["timeout"] == 30
    plan = uninstall(home)
    assert all(change.restored for change in plan.changes)
    for path, digest in sums.items():
        assert sha(path) == digest
        assert not path.with_name(path.name + ccs.BACKUP_SUFFIX).exists()
    assert mode_of(settings_path) == 0o640
    assert not uninstall(home).changed  # nothing left to remove


def test_uninstall_deletes_the_files_install_created(
    home: Path, project: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (project / "README").write_text("keep me\n")
    assert cli(home, data, "install", "claude-code").returncode == 0
    assert (
        cli(home, data, "install", "claude-code", "--scope", "project", cwd=project).returncode == 0
    )
    result = cli(home, data, "uninstall", "claude-code", "--scope", "project", cwd=project)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in project.iterdir()) == ["README"]  # .claude/ went too
    assert (home / ".claude.json").exists()  # the user scope is another install
    result = cli(home, data, "uninstall", "claude-code")
    assert result.returncode == 0, result.stderr
    assert list(home.iterdir()) == []
    again = cli(home, data, "uninstall", "claude-code")
    assert again.returncode == 0 and "not installed" in again.stdout


def test_uninstall_after_other_changes_removes_only_ours(home: Path, project: Path) -> None:
    settings_path = project / ".claude" / "settings.json"
    write(
        settings_path,
        {
            "hooks": {
                "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "mine.sh"}]}]
            }
        },
    )
    local_path = project / ".claude" / "settings.local.json"
    write(local_path, {"enabledMcpjsonServers": ["db"], "permissions": {"allow": []}})
    install(home, "project", project)
    # meanwhile: a new setting, and a hook of the user's inside our matcher group
    settings = load(settings_path)
    settings["model"] = "sonnet"
    settings["hooks"]["SessionStart"][0]["hooks"].append({"type": "command", "command": "hi.sh"})
    settings_path.write_text(json.dumps(settings, indent=2) + "\n")

    plan = uninstall(home, "project", project)

    assert load(settings_path) == {
        "hooks": {
            "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "mine.sh"}]}],
            "SessionStart": [{"matcher": "", "hooks": [{"type": "command", "command": "hi.sh"}]}],
        },
        "model": "sonnet",
    }
    assert settings_path.with_name("settings.json" + ccs.BACKUP_SUFFIX).exists()  # kept, said
    assert any("changed since install" in note for note in plan.notes)
    assert load(local_path) == {"enabledMcpjsonServers": ["db"], "permissions": {"allow": []}}
    assert not (project / ".mcp.json").exists()


def test_status_for_doctor(home: Path, project: Path) -> None:
    status = ccs.claude_code_status(home, project, data_dir=DATA)
    assert status["line"] == (f"user: not installed; project {project}: not installed")
    assert status["plugin"]["dir"] == str(ccs.plugin_dir())
    install(home)
    install(home, "project", project, data_dir="/elsewhere")
    status = ccs.claude_code_status(home, project, data_dir=DATA)
    user, proj = status["scopes"]["user"], status["scopes"]["project"]
    assert user["hooks"] == EVENTS and user["hooks_missing"] == []
    assert user["mcp_server"] == "installed" and user["other_data_dir"] is False
    assert proj["approved"] is True and proj["trusted"] is False
    assert proj["other_data_dir"] is True and proj["data_dirs"] == ["/elsewhere"]
    assert status["line"] == (
        f"user: 8/8 hooks, MCP server; project {project}: 8/8 hooks, MCP server, "
        "folder not trusted by Claude Code yet (data dir /elsewhere)"
    )
    settings_path = home / ".claude" / "settings.json"
    settings = load(settings_path)
    settings["enabledPlugins"] = {f"{ccs.PLUGIN_NAME}@{ccs.PLUGIN_NAME}": True}
    settings_path.write_text(json.dumps(settings))
    status = ccs.claude_code_status(home, project, data_dir=DATA)
    assert status["plugin"]["enabled"] is True and "recorded twice" in status["line"]
    (home / ".claude.json").write_text("{oops")
    broken = ccs.claude_code_status(home, project)
    assert "not valid JSON" in broken["scopes"]["user"]["errors"][0]  # reported, not raised


def test_doctor_reports_claude_code(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(home, data, "install", "claude-code").returncode == 0
    result = cli(home, data, "doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["claude_code"]
    assert report["scopes"]["user"]["hooks"] == EVENTS
    assert report["scopes"]["user"]["other_data_dir"] is False
    human = cli(home, data, "doctor", cwd=tmp_path)
    line = f"user: 8/8 hooks, MCP server; project {tmp_path.resolve()}: not installed"
    assert re.search(rf"^Claude Code +{re.escape(line)}$", human.stdout, re.M), human.stdout


def test_scope_and_project_flags(home: Path, project: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = cli(home, data, "install", "claude-code", "--scope", "user", "--project", str(project))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    missing = cli(home, data, "install", "claude-code", "--project", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not a directory" in missing.stderr
    implied = cli(home, data, "install", "claude-code", "--project", str(project))
    assert implied.returncode == 0 and (project / ".mcp.json").exists()
    assert "trusted" in implied.stderr  # the note about Claude Code's trust prompt


# -- the plugin -------------------------------------------------------------------------


def test_plugin_files_match_the_install() -> None:
    root = ccs.plugin_dir()
    manifest = load(root / ".claude-plugin" / "plugin.json")
    assert manifest["name"] == ccs.PLUGIN_NAME and manifest["version"] and manifest["description"]
    hooks = load(root / "hooks" / "hooks.json")["hooks"]
    assert list(hooks) == EVENTS
    for event, timeout in ccs.HOOK_EVENTS:
        (hook,) = [h for g in hooks[event] for h in g["hooks"]]
        assert hook == {
            "type": "command",
            "timeout": timeout,
            "command": f'"${{CLAUDE_PLUGIN_ROOT}}/bin/claude-tui-hook" {event}',
        }
    assert load(root / ".mcp.json")["mcpServers"]["claude-tui"]["command"] == "claude-tui"
    assert os.access(root / "bin" / "claude-tui-hook", os.X_OK)
    # every plugin file is package data (a wheel without them has no plugin)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["claude_tui"]
    package = ROOT / "claude_tui"
    files = [p.relative_to(package).as_posix() for p in root.rglob("*") if p.is_file()]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), files


def test_plugin_hook_script_runs_claude_tui_or_nothing(tmp_path: Path) -> None:
    script = ccs.plugin_dir() / "bin" / "claude-tui-hook"
    fake = tmp_path / "bin" / "claude-tui"
    fake.parent.mkdir()
    log = tmp_path / "log"
    fake.write_text(f'#!/bin/sh\necho "$@" > {log}\ncat >> {log}\n')
    fake.chmod(0o755)
    base = {"PATH": "/usr/bin:/bin"}
    nothing = subprocess.run(
        [str(script), "Stop"], input="{}", capture_output=True, text=True, env=base, timeout=10
    )
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (0, "", "")
    on_path = subprocess.run(
        [str(script), "Stop"],
        input='{"a": 1}',
        capture_output=True,
        text=True,
        env={"PATH": f"{fake.parent}:/usr/bin:/bin"},
        timeout=10,
    )
    assert on_path.returncode == 0 and log.read_text() == 'hook Stop\n{"a": 1}'
    chosen = subprocess.run(
        [str(script), "SessionEnd"],
        input="",
        capture_output=True,
        text=True,
        env={**base, "CLAUDE_TUI_BIN": str(fake)},
        timeout=10,
    )
    assert chosen.returncode == 0 and log.read_text() == "hook SessionEnd\n"
    gone = subprocess.run(
        [str(script), "Stop"],
        capture_output=True,
        text=True,
        timeout=10,
        env={**base, "CLAUDE_TUI_BIN": str(tmp_path / "missing")},
    )
    assert (gone.returncode, gone.stdout, gone.stderr) == (0, "", "")


# -- the real Claude Code --------------------------------------------------------------


@pytest.fixture(scope="module")
def claude_bin() -> Path:
    """The real ``claude`` (tests/claude_code_cli.py); a missing one fails, never skips."""
    return find_claude()


def claude(claude_bin: Path, home: Path, *args: str, cwd: Path, **env: str) -> str:
    full = cli_env(home)
    full.update(CLAUDE_CODE_TMPDIR=str(home / "tmp"), **env)
    result = subprocess.run(
        [str(claude_bin), *args], env=full, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def server_line(listing: str) -> str:
    lines = [line for line in listing.splitlines() if "claude-tui" in line]
    assert len(lines) == 1, listing
    return lines[0]


def test_real_claude_connects_to_the_user_scope_server(
    claude_bin: Path, home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert cli(home, data, "install", "claude-code").returncode == 0
    listing = claude(claude_bin, home, "mcp", "list", cwd=home)
    line = server_line(listing)
    assert line.startswith(f"claude-tui: {os.path.abspath(sys.executable)} -m claude_tui"), line
    assert line.endswith("✔ Connected"), line


def test_real_claude_connects_to_the_project_server_once_trusted(
    claude_bin: Path, home: Path, project: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert (
        cli(home, data, "install", "claude-code", "--scope", "project", cwd=project).returncode == 0
    )
    # an untrusted folder: Claude Code ignores its settings.local.json approval
    assert "Pending approval" in server_line(claude(claude_bin, home, "mcp", "list", cwd=project))
    config_path = home / ".claude.json"  # what accepting the trust prompt records
    config = load(config_path) if config_path.exists() else {}
    config.setdefault("projects", {}).setdefault(str(project), {})["hasTrustDialogAccepted"] = True
    config_path.write_text(json.dumps(config))
    line = server_line(claude(claude_bin, home, "mcp", "list", cwd=project))
    assert line.endswith("✔ Connected"), line
    assert ccs.claude_code_status(home, project)["scopes"]["project"]["trusted"] is True


def test_real_claude_validates_and_loads_the_plugin(
    claude_bin: Path, home: Path, tmp_path: Path
) -> None:
    root = ccs.plugin_dir()
    report = claude(claude_bin, home, "plugin", "validate", "--strict", str(root), cwd=home)
    assert "Validation passed" in report
    data = tmp_path / "data"
    shim = tmp_path / "shim" / "claude-tui"  # `claude-tui` on PATH, as the plugin expects
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m claude_tui "$@"\n')
    shim.chmod(0o755)
    listing = claude(
        claude_bin,
        home,
        "--plugin-dir",
        str(root),
        "mcp",
        "list",
        cwd=home,
        PATH=f"{shim.parent}:{os.environ['PATH']}",
        CLAUDE_TUI_DATA_DIR=str(data),
    )
    line = server_line(listing)
    assert line.startswith(f"plugin:{ccs.PLUGIN_NAME}:claude-tui: claude-tui mcp"), line
    assert line.endswith("✔ Connected"), line
