"""``arbwatch check-config``: names checked offline, and ``--online`` against the simulators.

The offline checks run the command in-process. ``--online`` asks the RapidOddsAPI and
TheRundown simulators, served on 127.0.0.1 and named by each feed's ``base_url``, as a user
would ask the real providers: once in-process, and once as ``python -m arbwatch`` in a
child process.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from arbwatch.cli import main
from arbwatch.commands import EXIT_CONFIG
from arbwatch.config.online import check_online
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import RundownSimulator
from arbwatch.sim.server import LOOPBACK, serve
from arbwatch.sim.world import World

RAPID_KEY = "oa_sim_pro"
CONFIG = """\
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: {rapid_key}
    base_url: {rapid_url}
    sports: {sports}
    bookmakers: {bookmakers}
    market_types: {markets}
  - name: rundown
    provider: therundown
    api_key: rundown-sim-key
    base_url: {rundown_url}
    sport_ids: {sport_ids}
    affiliate_ids: {affiliates}
channels:
  phone: console://
rules:
  - name: ev
    kind: positive_ev
    sharp: {sharp}
    books: {books}
    sports: {rule_sports}
    notify: [phone]
"""
#: Lines of CONFIG, for the messages' line numbers.
LINE = {key: n for n, line in enumerate(CONFIG.splitlines(), 1) for key in [line.split(":")[0]]}


def write(tmp_path: Path, **fields: str) -> Path:
    """The config with ``fields`` in place of the defaults (a valid config)."""
    values = {
        "rapid_key": RAPID_KEY,
        "rapid_url": "http://127.0.0.1:9",
        "rundown_url": "http://127.0.0.1:9",
        "sports": "[NBA, EPL]",
        "bookmakers": "[DraftKings, Bet365]",
        "markets": "[head_to_head]",
        "sport_ids": "[4]",
        "affiliates": "[3, 23, 2]",
        "sharp": "[Pinnacle]",
        "books": "[FanDuel, DraftKings]",
        "rule_sports": "[NBA]",
        **fields,
    }
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(**values), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


def check(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    status = main(["check-config", "-c", str(path), *extra])
    out, err = capsys.readouterr()
    return status, out, err


# --- offline: the misspellings ----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "written", "needle", "path", "message"),
    [
        (
            "sharp",
            "[Pinacle]",
            "sharp: [Pinacle]",
            "rules[0].sharp[0]",
            "'Pinacle' is not one of RapidOddsAPI's or TheRundown's books, "
            "did you mean 'Pinnacle'?",
        ),
        (
            "rule_sports",
            "[NBAA]",
            "sports: [NBAA]",
            "rules[0].sports[0]",
            "'NBAA' is not one of RapidOddsAPI's or TheRundown's sports, did you mean 'NBA'?",
        ),
        (
            "markets",
            "[moneyline]",
            "market_types: [moneyline]",
            "feeds[0].market_types[0]",
            "RapidOddsAPI has no market 'moneyline': its key for it is 'head_to_head' "
            "(did you mean it?)",
        ),
    ],
)
def test_a_misspelled_name_fails_with_its_line_and_what_was_meant(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    field: str,
    written: str,
    needle: str,
    path: str,
    message: str,
) -> None:
    config = write(tmp_path, **{field: written})
    status, out, err = check(config, capsys)
    assert (status, out) == (EXIT_CONFIG, "")
    assert err == f"{config}:{line_of(config, needle)}: {path}: {message}\n"


def test_online_asks_nothing_of_a_config_that_fails_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The base URLs lead nowhere: asking would fail too, but nothing is asked.
    status, out, err = check(write(tmp_path, sharp="[Pinacle]"), capsys, "--online")
    assert (status, out) == (EXIT_CONFIG, "")
    assert err.splitlines()[-1] == (
        "check-config --online: the providers were not asked; fix the above first"
    )
    assert "did you mean 'Pinnacle'?" in err


def test_books_in_lower_case_pass_in_the_providers_spelling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, books="[pinnacle, draftkings]", bookmakers="[draftkings, bet365]")
    status, out, err = check(config, capsys)
    assert (status, err) == (0, "")
    books, bookmakers = line_of(config, "books: [pinnacle"), line_of(config, "bookmakers:")
    assert out.splitlines()[0] == f"{config}: OK"
    assert f"note: {config}:{books}: rules[0].books[0]: 'pinnacle' is 'Pinnacle'" in out
    assert f"note: {config}:{books}: rules[0].books[1]: 'draftkings' is 'DraftKings'" in out
    assert (
        f"note: {config}:{bookmakers}: feeds[0].bookmakers[0]: 'draftkings' is sent as "
        "'DraftKings' (RapidOddsAPI's spelling)"
    ) in out


def test_a_name_no_catalog_knows_passes_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, books="[FanDuel, Smarkets]")
    status, out, err = check(config, capsys)
    assert (status, err) == (0, "")
    assert (
        f"warning: {config}:{line_of(config, 'Smarkets')}: rules[0].books[1]: 'Smarkets' is "
        "not one of RapidOddsAPI's or TheRundown's books, nor close to one: the rule uses it "
        "only if a feed delivers prices under that name (RapidOddsAPI publishes no list of "
        "bookmakers to ask; check-config --online asks TheRundown)"
    ) in out.splitlines()


# --- online ---------------------------------------------------------------------------------


@asynccontextmanager
async def providers() -> AsyncIterator[tuple[str, str]]:
    """Both simulators on loopback: (RapidOddsAPI's base URL, TheRundown's)."""
    world = World(seed=3)
    async with (
        serve(RapidOddsSimulator(world)) as rapid_url,
        serve(RundownSimulator(world, clock=lambda: world.now)) as rundown_url,
    ):
        yield rapid_url, rundown_url


@pytest.mark.anyio
async def test_online_names_what_each_provider_has(tmp_path: Path) -> None:
    async with providers() as (rapid_url, rundown_url):
        config = write(tmp_path, rapid_url=rapid_url, rundown_url=rundown_url)
        ok, lines = await check_online(config, env={})
    assert ok, lines
    assert lines[0].startswith(
        f"online: feed rapid: RapidOddsAPI at {rapid_url} has 20 sports; NBA offers "
    )
    assert lines[0].endswith(
        "it publishes no list of bookmakers, so 2 were checked against the documented list only"
    )
    assert lines[1] == (
        f"online: feed rundown: TheRundown at {rundown_url} has 3 sports (2 NFL, 4 NBA, 11 EPL) "
        "and 7 books (2 Bovada, 3 Pinnacle, 19 DraftKings, 22 BetMGM, 23 FanDuel, 40 Fanatics, "
        "41 Bet365)"
    )
    assert RAPID_KEY not in "\n".join(lines)


@pytest.mark.anyio
async def test_online_settles_names_the_documents_do_not_hold(tmp_path: Path) -> None:
    async with providers() as (rapid_url, rundown_url):
        config = write(
            tmp_path,
            rapid_url=rapid_url,
            rundown_url=rundown_url,
            sports="[NBA, NBL]",
            markets="[head_to_head, player_points, corners_race]",
            sport_ids="[4, 99]",
            affiliates="[3, 23, 77]",
            books="[FanDuel, Smarkets, BetMGM]",
            rule_sports="[NBA, NFL]",
        )
        ok, lines = await check_online(config, env={})
    assert not ok
    at = {key: line_of(config, f"{key}:") for key in ("sports", "market_types", "sport_ids")}
    rapid = f"RapidOddsAPI at {rapid_url}"
    rundown = f"TheRundown at {rundown_url}"
    assert lines[2:] == [
        f"{config}:{at['sports']}: feeds[0].sports[1]: RapidOddsAPI has no sport 'NBL' ({rapid})",
        f"{config}:{at['market_types']}: feeds[0].market_types[2]: RapidOddsAPI offers "
        "'corners_race' for none of the feed's sports (NBA) (they offer alternate_lines, "
        "alternate_total_points, head_to_head, player_points)",
        f"{config}:{at['sport_ids']}: feeds[1].sport_ids[1]: TheRundown has no sport 99 "
        f"({rundown})",
        f"{config}:{line_of(config, 'affiliate_ids')}: feeds[1].affiliate_ids[2]: TheRundown "
        f"has no affiliate 77 ({rundown})",
        f"{config}:{line_of(config, 'books: [')}: rules[0].books[1]: no feed delivers "
        "'Smarkets' (feed rapid: DraftKings, Bet365; feed rundown: Pinnacle, FanDuel)",
        f"{config}:{line_of(config, 'books: [')}: rules[0].books[2]: no feed delivers "
        "'BetMGM' (feed rapid: DraftKings, Bet365; feed rundown: Pinnacle, FanDuel)",
        f"{config}:{line_of(config, '    sports: [NBA, NFL]')}: rules[0].sports[1]: no feed's "
        "games carry sport 'NFL' (NBA)",
    ]


@pytest.mark.anyio
async def test_online_waits_out_a_rate_limit_and_asks_again(tmp_path: Path) -> None:
    # One request a second: /sports passes, the market keys of NBA are refused at first.
    world = World(seed=3)
    async with (
        serve(RapidOddsSimulator(world, rate_limit=1)) as rapid_url,
        serve(RundownSimulator(world, clock=lambda: world.now)) as rundown_url,
    ):
        config = write(tmp_path, rapid_url=rapid_url, rundown_url=rundown_url, sports="[NBA]")
        ok, lines = await check_online(config, env={})
    assert ok, lines
    assert "NBA offers 4 market keys" in lines[0]


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@pytest.mark.anyio
async def test_online_says_which_provider_cannot_be_reached(tmp_path: Path) -> None:
    down = f"http://{LOOPBACK}:{unused_port()}"
    async with providers() as (rapid_url, _):
        config = write(tmp_path, rapid_url=rapid_url, rundown_url=down)
        ok, lines = await check_online(config, env={})
    assert not ok
    assert lines[1].startswith(f"online: feed rundown: cannot reach TheRundown at {down}: ")
    # The rules are not judged against half the answers.
    assert len(lines) == 2


@pytest.mark.anyio
async def test_online_says_when_a_provider_refuses_the_key(tmp_path: Path) -> None:
    async with providers() as (rapid_url, rundown_url):
        config = write(
            tmp_path, rapid_url=rapid_url, rundown_url=rundown_url, rapid_key="oa_revoked_key"
        )
        ok, lines = await check_online(config, env={})
    assert not ok
    assert lines[0] == (
        f"online: feed rapid: RapidOddsAPI at {rapid_url} answered /sports with HTTP 401: "
        '{"detail":"Invalid API key."}'
    )
    assert "oa_revoked_key" not in "\n".join(lines)


@pytest.mark.anyio
async def test_the_command_asks_online_and_exits_by_what_it_found(tmp_path: Path) -> None:
    async with providers() as (rapid_url, rundown_url):
        good = write(tmp_path, rapid_url=rapid_url, rundown_url=rundown_url)
        done = await anyio.run_process(
            [sys.executable, "-m", "arbwatch", "check-config", "--online", "-c", str(good)],
            check=False,
            env=dict(os.environ),
        )
        assert done.returncode == 0, done.stderr.decode()
        out = done.stdout.decode()
        assert out.startswith(f"{good}: OK\n")
        assert f"online: feed rundown: TheRundown at {rundown_url} has 3 sports" in out

        bad = write(tmp_path, rapid_url=rapid_url, rundown_url=rundown_url, affiliates="[3, 77]")
        done = await anyio.run_process(
            [sys.executable, "-m", "arbwatch", "check-config", "--online", "-c", str(bad)],
            check=False,
            env=dict(os.environ),
        )
    assert done.returncode == EXIT_CONFIG
    assert done.stdout == b""
    assert "feeds[1].affiliate_ids[1]: TheRundown has no affiliate 77" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()
