"""The daemon's helper commands as a user types them: check-config, show-config,
test-notify and history.

Each runs ``python -m arbwatch`` as a child process, the way a user or the install guide
runs it; test-notify delivers to a real SMTP server in the test, and history reads the
state a real daemon run left behind.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from arbwatch.commands import EXIT_CONFIG, EXIT_USAGE
from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from tests.e2e.test_daemon import WAIT, arb, bootstrapped, running, stage
from tests.sinks import smtp_server

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
#: What config.example.yaml reads from the environment; the bot token is the secret
#: that must never be printed.
SECRET = "987654:AAsecret-token-value"
EXAMPLE_ENV = {
    "RAPIDODDS_API_KEY": "oa_example_key",
    "THERUNDOWN_API_KEY": "rundown-example-key",
    "TG_BOT_TOKEN": SECRET,
    "TG_CHAT_ID": "12345",
    "DISCORD_WEBHOOK_ID": "111",
    "DISCORD_WEBHOOK_TOKEN": "discord-secret",
    "SMTP_USER": "me",
    "SMTP_PASSWORD": "smtp-secret",
}


async def arbwatch(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``arbwatch ARGS``; return its exit status, stdout and stderr."""
    result = await anyio.run_process(
        [sys.executable, "-m", "arbwatch", *args],
        check=False,
        env={**os.environ, **(env or {})},
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def test_check_config_passes_the_example_and_summarises_it(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    shutil.copy(ROOT / "config.example.yaml", path)
    status, out, err = await arbwatch("check-config", "-c", str(path), env=EXAMPLE_ENV)
    assert (status, err) == (0, "")
    assert out.startswith(f"{path}: OK")
    assert "rapid" in out
    assert "tgram" in out
    assert SECRET not in out


async def test_check_config_fails_with_every_problem_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    text = text.replace("odds_format: american", "odds_format: roman", 1)
    text = text.replace("    min_ev: ", "    min_evv: ", 1)
    path.write_text(text, encoding="utf-8")
    status, out, err = await arbwatch("check-config", "-c", str(path), env=EXAMPLE_ENV)
    assert status == EXIT_CONFIG
    assert out == ""
    line = text.splitlines().index("odds_format: roman") + 1
    assert f"{path}:{line}: odds_format:" in err
    assert "min_evv" in err
    assert "did you mean 'min_ev'?" in err
    assert SECRET not in err


async def test_show_config_redacts_every_secret(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    shutil.copy(ROOT / "config.example.yaml", path)
    status, out, _ = await arbwatch("show-config", "-c", str(path), env=EXAMPLE_ENV)
    assert status == 0
    assert "api_key: '***'" in out
    for secret in ("oa_example_key", SECRET, "discord-secret", "smtp-secret"):
        assert secret not in out


async def test_test_notify_delivers_a_sample_to_a_real_smtp_server(tmp_path: Path) -> None:
    async with smtp_server() as smtp:
        path = tmp_path / "config.yaml"
        text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
        text = text.replace(
            "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.com?to=me@example.com",
            smtp.url(),
        )
        path.write_text(text, encoding="utf-8")
        status, out, err = await arbwatch("test-notify", "mail", "-c", str(path), env=EXAMPLE_ENV)
        assert (status, out.strip()) == (0, "test-notify mail: sent"), err
        mail = await smtp.next_mail()
        assert mail["Subject"].startswith("TEST · ARB +")

        status, _, err = await arbwatch("test-notify", "pager", "-c", str(path), env=EXAMPLE_ENV)
        assert status == EXIT_USAGE
        assert "no channel 'pager'" in err


async def test_history_lists_what_a_daemon_run_alerted(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        path = s.write_config()
        status, out, _ = await arbwatch("history", "-c", str(path))
        assert status == 0
        assert out.lower().startswith("no history yet")

        daemon = Daemon(load_config(path))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            s.price(s.events[0], arb(2.10, 2.10))
            await s.smtp.next_mail(WAIT)

        status, out, _ = await arbwatch("history", "-c", str(path))
        game = f"{s.events[0].away} @ {s.events[0].home}"
        assert status == 0
        lines = [line for line in out.splitlines() if game in line]
        assert len(lines) == 2  # the arbitrage and Bovada's +EV price, one row each
        assert any("arbs" in line and "+5.00%" in line for line in lines)

        # A filter: one rule's rows; a rule that is not there is named, with the rules.
        status, out, _ = await arbwatch("history", "-c", str(path), "--rule", "arbs")
        assert status == 0
        only = [line for line in out.splitlines() if game in line]
        assert len(only) == 1
        assert "  arbs  ARB   +5.00%" in only[0]
        status, out, err = await arbwatch("history", "-c", str(path), "--rule", "arb")
        assert (status, out) == (EXIT_USAGE, "")
        assert err == (
            "arbwatch history: no rule named 'arb', did you mean 'arbs'? (rules: arbs, bovada-ev)\n"
        )


async def test_history_needs_no_secrets_but_run_and_check_config_do(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        path = s.write_config()
        daemon = Daemon(load_config(path))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            s.price(s.events[0], arb(2.10, 2.10))
            await s.smtp.next_mail(WAIT)
        # The same config with the key in a file that is not there and a channel's URL in
        # a variable that is not set, as on a machine without the service's credentials.
        text = path.read_text(encoding="utf-8")
        secretless = text.replace(
            "api_key: ", "api_key_file: missing-key-file  # was: ", 1
        ).replace(f"url: {s.smtp.url()}", "url: ${NOT_SET_MAIL_URL}")
        assert secretless != text
        path.write_text(secretless, encoding="utf-8")

        status, out, err = await arbwatch("history", "-c", str(path))
        assert (status, err) == (0, "")
        assert f"{s.events[0].away} @ {s.events[0].home}" in out

        status, out, err = await arbwatch("check-config", "-c", str(path))
        assert (status, out) == (EXIT_CONFIG, "")
        assert "feeds[0].api_key_file: cannot read" in err
        assert "environment variable NOT_SET_MAIL_URL is not set" in err

        status, out, err = await arbwatch("run", "-c", str(path))
        assert (status, out) == (EXIT_CONFIG, "")
        assert "arbwatch: the config cannot be used:" in err
        assert "feeds[0].api_key_file: cannot read" in err
