"""What the secret rules catch, and what they leave alone (the red team's cases)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from claude_tui.core.secrets import (
    DEFAULT_RULES,
    redact_text,
    redact_value,
    safe_cut,
    sensitive_field,
    text_is_sensitive,
)
from tests.conftest import ROOT, cli_env
from tests.redis_proc import RedisProcess

P = "[sealed on host h]"
CAUGHT = [
    '{"db": {"password": "x"}}',
    '{"a": {"b": {"c": {"aws": {"secret_access_key": "x"}}}}}',
    '[{"auth": {"token": "x"}}]',
    '{"db": {"password\\n": "x"}}',  # an escape in the field name
    '{"pass\\u0077ord": "x"}',
    '{"' + "a" * 250 + '_password": "x"}',  # a long field name
    '"{\\"password\\": \\"kept as a string\\"}"',  # JSON inside a JSON string
    '{"PGPASSWORD": "x"}',
    '{"dbpassword": "x"}',
    '{"password2": "x"}',
    '{"client_secret": "x"}',
    "DB_PASSWORD=hunter2",
    "export API_KEY='abc123'",
    "postgres://admin:pw@db.internal/app",
    "Authorization: Bearer abcdefghijklmnop",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    "sk-ant-api03-" + "A" * 30,
    "ghp_" + "B" * 36,
    "AKIA1234567890ABCDEF",
]
LEFT_ALONE = [
    '{"usage": {"input_tokens": 3, "max_tokens": 100}}',
    "max_tokens: 100",
    "the password reset page is broken",
    "bypass=3",
    "sort_key: name",
    "meeting at 10:30",
    '{"primary_key": "id", "tokens_left": 3}',
    "https://example.com/path?a=1",
]


@pytest.mark.parametrize("text", CAUGHT)
def test_caught(text: str) -> None:
    assert text_is_sensitive(text, DEFAULT_RULES)


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_left_alone(text: str) -> None:
    assert not text_is_sensitive(text, DEFAULT_RULES)


@pytest.mark.parametrize("text", CAUGHT)
def test_redacted_text_holds_no_credential(text: str) -> None:
    shown = redact_text(text, DEFAULT_RULES, P)
    assert shown != text and not text_is_sensitive(shown.replace(P, "x"), DEFAULT_RULES)


def test_redaction_keeps_what_is_not_secret() -> None:
    text = "deploy with sk-ant-api03-" + "A" * 30 + " then DB_PASSWORD=hunter2 done"
    assert redact_text(text, DEFAULT_RULES, P) == f"deploy with {P} then DB_PASSWORD={P} done"
    value = {"user": "ana", "db": {"password": "pw", "host": "h"}, "note": "PGPASSWORD=s3cr3t psql"}
    assert redact_value(value, DEFAULT_RULES, P) == {
        "user": "ana", "db": {"password": P, "host": "h"}, "note": f"PGPASSWORD={P} psql",
    }  # fmt: skip


def test_field_names() -> None:
    assert all(map(sensitive_field, ["password", "awsSecretAccessKey", "api_key", "token_1"]))
    assert not any(map(sensitive_field, ["input_tokens", "sort_key", "oauth_url", "bypass"]))


def test_a_cut_never_leaves_part_of_a_credential() -> None:
    token = "ghp_" + "C" * 36
    for at in range(150, 200):
        text = "x" * at + token + " tail" * 20
        cut = safe_cut(text, 200)
        assert len(cut) <= 200
        if at + len(token) < 200:
            assert token in cut and text_is_sensitive(cut, DEFAULT_RULES)  # whole: still caught
        else:
            assert cut == "x" * at  # a cut through it moves to before it
    assert safe_cut("short", 200) == "short"
    assert safe_cut("a" * 300, 200) == "a" * 200


def test_listings_mask_secrets_and_doctor_masks_the_redis_password(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    from tests.conftest import run_cli

    data = tmp_path / "data"
    data.mkdir()
    secret = "sk-ant-api03-" + "L" * 30
    stored = subprocess.run(
        [sys.executable, "-m", "claude_tui", "memory", "store", "anthropic", "-"],
        input=secret, env=cli_env(data, None), capture_output=True, text=True, timeout=60,
        cwd=ROOT,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    listed = run_cli(data, "memory", "list", "--json")
    assert listed.returncode == 0 and secret not in listed.stdout
    assert json.loads(listed.stdout)[0]["value"].startswith("<secret")
    got = run_cli(data, "memory", "get", "anthropic")
    assert got.stdout.strip().strip('"') == secret  # asked for by its owner, it is shown
    url = redis_server.url.replace("redis://", "redis://:hunter2pw@")
    env = cli_env(data, url)
    doctor = subprocess.run(
        [sys.executable, "-m", "claude_tui", "doctor", "--json"],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert "hunter2pw" not in doctor.stdout + doctor.stderr
    assert "***" in doctor.stdout


def test_a_sealed_row_is_not_rewritten_with_a_key_that_cannot_open_it(data_dir: Path) -> None:
    from cryptography.fernet import Fernet

    from claude_tui.core.config import Config
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.errors import SecretUnavailable

    with MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False)) as c:
        s = c.sessions.create()
        task = c.tasks.add(s.id, "use sk-ant-api03-" + "W" * 30)
    wrong = {"CLAUDE_TUI_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    with MemoryCoordinator.open(Config.load(data_dir, env=wrong, redis_enabled=False)) as c:
        with pytest.raises(SecretUnavailable):
            c.tasks.update(task.id, result={"x": "plain"})
        assert c.tasks.update(task.id, status="in_progress").status == "in_progress"
    with MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False)) as c:
        assert "W" * 30 in c.tasks.get(task.id, reveal=True).title  # nothing was lost
