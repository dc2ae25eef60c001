"""systemd/arbwatch.service: what systemd-analyze says of it, and the settings we rely on."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from arbwatch.commands import EXIT_CONFIG
from arbwatch.config.model import Config
from arbwatch.daemon import EXIT_KEYS_REFUSED
from arbwatch.feeds.base import MAX_FRAME_BYTES
from arbwatch.status_http import Limits

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "arbwatch.service"
GUIDE = ROOT / "systemd" / "README.md"
#: The most exposure `systemd-analyze security` may report (0 is locked down, 10 is open).
MAX_EXPOSURE = 2.0
#: systemd's default soft limit on open descriptors, which the unit raises.
SYSTEMD_DEFAULT_NOFILE = 1024
#: Every systemd-analyze run gets this long; it takes well under a second.
TIMEOUT = 60
#: Where systemd's own units live; `verify` needs the targets ours is ordered against.
SYSTEM_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None,
    reason="systemd-analyze is not installed (apt-get install systemd; .ci/run does)",
)


def settings(text: str) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values, in order (a key may repeat, as SystemCallFilter= does)."""
    parsed: dict[str, dict[str, list[str]]] = {}
    section: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = parsed.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return parsed


UNIT_SETTINGS = settings(UNIT.read_text(encoding="utf-8"))
SERVICE = UNIT_SETTINGS["Service"]


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=TIMEOUT,
        check=False,
    )


@needs_analyze
def test_security_exposure_is_at_most_2() -> None:
    result = analyze("security", "--offline=yes", "--no-pager", str(UNIT))
    assert result.returncode == 0, result.stderr
    found = re.search(r"Overall exposure level for arbwatch\.service: (\d+\.\d+)", result.stdout)
    assert found is not None, result.stdout[-2000:]
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


def fake_root(tmp_path: Path, unit_text: str) -> Path:
    """A file system root holding the unit, systemd's own units, and stand-ins for our commands.

    `verify` checks that every Exec*= command exists and is executable; /opt/arbwatch is
    where an installation puts arbwatch, not where a test may write. ``--root`` points
    `verify` at this tree instead, with the unit file checked byte for byte as shipped.
    """
    root = tmp_path / "root"
    units = next((d for d in SYSTEM_UNIT_DIRS if d.is_dir()), None)
    assert units is not None, f"systemd-analyze is here but no unit directory: {SYSTEM_UNIT_DIRS}"
    shutil.copytree(units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/arbwatch.service").write_text(unit_text, encoding="utf-8")
    for command in exec_commands():
        stand_in = root / command.relative_to("/")
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
        stand_in.chmod(0o755)
    return root


def exec_commands() -> list[Path]:
    """The programs the unit runs (Exec*= lines, special prefixes such as ``-`` removed)."""
    commands = []
    for key, values in SERVICE.items():
        if key.startswith("Exec"):
            commands += [Path(value.split()[0].lstrip("-@:+!")) for value in values]
    return commands


def verify(root: Path) -> tuple[int, list[str]]:
    """`verify`'s exit status, and what it said about our unit."""
    result = analyze("verify", f"--root={root}", "arbwatch.service")
    said = (result.stdout + result.stderr).splitlines()
    return result.returncode, [line for line in said if "arbwatch" in line]


@needs_analyze
def test_verify_passes_without_a_word(tmp_path: Path) -> None:
    status, said = verify(fake_root(tmp_path, UNIT.read_text(encoding="utf-8")))
    assert said == []
    assert status == 0


@needs_analyze
def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The check above means something: a misspelt key and a missing command are reported."""
    broken = UNIT.read_text(encoding="utf-8").replace("WatchdogSec=", "WatchdogSecs=")
    root = fake_root(tmp_path, broken)
    (root / "bin/kill").unlink()
    status, said = verify(root)
    assert status != 0
    assert any("WatchdogSecs" in line for line in said), said
    assert any("/bin/kill" in line for line in said), said


def test_exec_commands_are_the_venv_of_the_install_guide() -> None:
    assert exec_commands() == [
        Path("/opt/arbwatch/venv/bin/arbwatch"),
        Path("/bin/kill"),
    ]
    assert "/opt/arbwatch/venv/bin/arbwatch" in GUIDE.read_text(encoding="utf-8")


def test_type_notify_with_the_watchdog() -> None:
    assert SERVICE["Type"] == ["notify"]
    assert SERVICE["NotifyAccess"] == ["main"]
    assert SERVICE["WatchdogSec"] == ["30"]


def test_start_reads_the_config_the_environment_names() -> None:
    assert SERVICE["ExecStart"] == ["/opt/arbwatch/venv/bin/arbwatch run -c ${ARBWATCH_CONFIG}"]
    assert "ARBWATCH_CONFIG=/etc/arbwatch/config.yaml" in SERVICE["Environment"]


def test_reload_sends_sighup_to_the_daemon() -> None:
    assert SERVICE["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_a_config_error_is_not_restarted() -> None:
    assert SERVICE["Restart"] == ["on-failure"]
    assert SERVICE["RestartPreventExitStatus"] == [str(EXIT_CONFIG)]
    assert EXIT_CONFIG == 78
    unit = UNIT_SETTINGS["Unit"]
    assert "StartLimitIntervalSec" in unit
    assert "StartLimitBurst" in unit


def test_every_key_refused_is_restarted() -> None:
    # Restart=on-failure restarts on any non-zero status not listed as preventing it.
    assert SERVICE["Restart"] == ["on-failure"]
    assert str(EXIT_KEYS_REFUSED) not in " ".join(SERVICE["RestartPreventExitStatus"])
    assert EXIT_KEYS_REFUSED == 77


def test_stop_timeout_leaves_room_to_flush_alerts() -> None:
    assert float(SERVICE["TimeoutStopSec"][0]) > Config().flush_timeout + 5


def test_state_config_and_credentials_directories() -> None:
    assert SERVICE["DynamicUser"] == ["yes"]
    assert SERVICE["StateDirectory"] == ["arbwatch"]
    assert SERVICE["ConfigurationDirectory"] == ["arbwatch"]
    assert SERVICE["LoadCredential"] == ["arbwatch:/etc/arbwatch/credentials"]


def test_resources_are_bounded_above_what_the_daemon_holds() -> None:
    # The status listener alone may hold this many; feeds, channels and SQLite a few dozen.
    assert int(SERVICE["LimitNOFILE"][0]) >= 16 * Limits().connections
    assert int(SERVICE["LimitNOFILE"][0]) > SYSTEMD_DEFAULT_NOFILE
    # Several times the 85 MB the daemon runs at, and the 16 MB frame decoded several times.
    assert SERVICE["MemoryMax"] == ["1G"]
    assert 64 * MAX_FRAME_BYTES <= 1024**3
    assert SERVICE["TasksMax"] == ["256"]
