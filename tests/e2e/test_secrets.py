"""No secret on any surface: every error path driven at DEBUG, then every output searched.

One daemon runs in-process against real simulators and sinks on 127.0.0.1, with a
distinctive secret in every place a bettor can put one: API keys (written, from
``${VAR}``, from a file), a relay user and password in every feed's ``base_url``, and
apprise channel URLs (a password, a Telegram token). Then it is made to fail every way it
can: keys refused at the handshake (401, 403) and by REST, an account out of credits, a
closed port, malformed frames, channels that answer 500 or refuse the connection, a reload
of a broken config, and a config that does not load. Logging is the daemon's own (the
handler `configure_logging` installs) at DEBUG, with httpx's and apprise's loggers opened
to DEBUG too: apprise writes whole URLs there.

Then every surface is searched: the log, every error text, show-config, ``/status``,
``/metrics`` and the recordings (rotating gzip files, as ``run --record`` writes them,
decompressed). Each wait is bounded by `tests.sinks.until`.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from arbwatch.config import load_config
from arbwatch.config.model import Config
from arbwatch.config.show import show_config
from arbwatch.daemon import Daemon, feed_recorder
from arbwatch.errors import ConfigError
from arbwatch.feeds.base import Backoff
from arbwatch.feeds.connection import FeedState
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.rapidodds.driver import RapidOddsFeed
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.recording import FrameRecorder
from arbwatch.feeds.registry import Feed
from arbwatch.feeds.therundown.driver import RundownFeed
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.logs import configure_logging
from arbwatch.sim.faults import Faults
from arbwatch.sim.rapidodds import PRO, RapidOddsSimulator
from arbwatch.sim.rundown import RundownKey
from arbwatch.sim.server import serve
from arbwatch.sim.world import World
from tests.e2e.test_daemon import WAIT, arb, running, stage
from tests.e2e.test_status import free_port
from tests.sinks import Reply, until

pytestmark = [pytest.mark.anyio, pytest.mark.faults]

RAPID_KEY = "oa_SECRET_rapid_good_7Q2X"
RAPID_BAD_KEY = "oa_SECRET_rapid_bad_3M8W"
RAPID_BROKE_KEY = "oa_SECRET_rapid_broke_5K1Z"
RUNDOWN_KEY = "SECRET-rundown-good-2P5R"
RUNDOWN_BAD_KEY = "SECRET-rundown-bad-8W3E"
RELAY_USER = "relayuserQ4"
RELAY_PASSWORD = "SECRET-relay-pass-6T1Y"
HOOK_PASSWORD = "SECRET-hook-pass-3C8V"
DEAD_PASSWORD = "SECRET-dead-pass-9N4B"
TELEGRAM_TOKEN = "SECRETtgramTOKEN5Z"
SECRETS = (
    RAPID_KEY,
    RAPID_BAD_KEY,
    RAPID_BROKE_KEY,
    RUNDOWN_KEY,
    RUNDOWN_BAD_KEY,
    RELAY_USER,
    RELAY_PASSWORD,
    HOOK_PASSWORD,
    DEAD_PASSWORD,
    TELEGRAM_TOKEN,
)
#: Where the keys given by ``${VAR}`` come from.
ENV = {"RAPID_KEY": RAPID_KEY, "RAPID_BAD_KEY": RAPID_BAD_KEY}

CONFIG = """\
odds_format: decimal
state_dir: {state}
log_level: debug
watch_config: false
feeds:
  - name: rundown
    provider: therundown
    api_key: {rundown_key}
    base_url: {rundown}
    sport_ids: [4]
    market_ids: [1]
    affiliate_ids: [3, 23, 2]
    heartbeat_timeout: 5s
  - name: rundown-bad
    provider: therundown
    api_key_file: {key_file}
    base_url: {rundown}
    sport_ids: [4]
  - name: rapid
    provider: rapidoddsapi
    api_key: ${{RAPID_KEY}}
    base_url: {rapid}
    sports: [NBA]
    bookmakers: [Pinnacle, DraftKings, FanDuel]
    market_types: [head_to_head]
  - name: rapid-bad
    provider: rapidoddsapi
    api_key: ${{RAPID_BAD_KEY}}
    base_url: {rapid}
    rest_bootstrap: false
    sports: [NBA]
    bookmakers: [Pinnacle]
    market_types: [head_to_head]
  - name: rapid-broke
    provider: rapidoddsapi
    api_key: {broke_key}
    base_url: {rapid}
    sports: [NBA]
    bookmakers: [Pinnacle]
    market_types: [head_to_head]
  - name: rapid-refused
    provider: rapidoddsapi
    api_key: ${{RAPID_KEY}}
    base_url: {refusing}
    rest_bootstrap: false
    sports: [NBA]
    bookmakers: [Pinnacle]
    market_types: [head_to_head]
  - name: rapid-closed
    provider: rapidoddsapi
    api_key: ${{RAPID_KEY}}
    base_url: {closed}
    sports: [NBA]
    bookmakers: [Pinnacle]
    market_types: [head_to_head]
channels:
  hook:
    url: {hook}
    retries: 1
    retry_initial: 0.02s
    retry_max: 0.05s
  dead:
    url: {dead}
    retries: 1
    retry_initial: 0.02s
    retry_max: 0.05s
  phone: tgram://123456789:{telegram}/987654321
rules:
  - name: arbs
    kind: arbitrage
    min_profit: 1%
    max_profit: 15%
    max_quote_age: 60s
    notify: [hook, dead]
status:
  listen: 127.0.0.1:{status_port}
"""


def with_userinfo(base: str) -> str:
    """``http://127.0.0.1:PORT`` as a relay with a login would be written."""
    return base.replace("://", f"://{RELAY_USER}:{RELAY_PASSWORD}@", 1)


@pytest.fixture
def daemon_log() -> Iterator[io.StringIO]:
    """The daemon's own log handler at DEBUG, into a buffer; logging restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libraries = {name: logging.getLogger(name).level for name in ("httpx", "apprise")}
    buffer = io.StringIO()
    configure_logging("debug", stream=buffer)
    for name in libraries:
        # configure_logging keeps them at WARNING; opened here, every line they can write
        # is written, and must come out redacted all the same.
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in libraries.items():
        logging.getLogger(name).setLevel(old)


def feeds_recording(config: Config, recordings: Path) -> tuple[list[Feed], list[FrameRecorder]]:
    """The config's feeds, each recording to its own file, with short reconnect delays."""
    feeds: list[Feed] = []
    recorders: list[FrameRecorder] = []
    for settings in config.feeds:
        # Recorded as the daemon records with ``run --record``: rotating gzip files.
        recorder = feed_recorder(config, settings.name, recordings)
        assert recorder is not None
        recorders.append(recorder)
        identity = EventIdentity()
        if isinstance(settings, RapidOddsSettings):
            feeds.append(
                RapidOddsFeed(
                    settings,
                    identity,
                    recorder=recorder,
                    backoff_factory=lambda: Backoff(initial=0.05, cap=0.2),
                )
            )
        else:
            assert isinstance(settings, RundownSettings)
            feeds.append(
                RundownFeed(
                    settings, identity, recorder=recorder, backoff=Backoff(initial=0.05, cap=0.2)
                )
            )
    return feeds, recorders


def feed(daemon: Daemon, name: str) -> Feed:
    """The daemon's feed called ``name``."""
    return next(f for f in daemon.feeds if f.stats.name == name)


def failed(daemon: Daemon, channel: str) -> int:
    """How many alerts ``channel`` gave up on."""
    return next(c.failed for c in daemon.health().channels if c.name == channel)


async def test_no_secret_reaches_any_surface_on_any_error_path(
    tmp_path: Path, daemon_log: io.StringIO
) -> None:
    surfaces: dict[str, str] = {}
    refusing_faults = Faults(refuse_handshake=401)
    rapid_keys = {RAPID_KEY: PRO, RAPID_BROKE_KEY: dataclasses.replace(PRO, credits=0)}
    rapid = RapidOddsSimulator(World(seed=11), keys=rapid_keys, push_interval=0.05)
    refusing = RapidOddsSimulator(
        World(seed=11), keys={RAPID_KEY: PRO}, push_interval=0.05, faults=refusing_faults
    )
    async with (
        stage(tmp_path, default=Reply(status=500)) as s,
        serve(rapid) as rapid_url,
        serve(refusing) as refusing_url,
    ):
        s.rundown.keys[RUNDOWN_KEY] = RundownKey()
        key_file = tmp_path / "rundown.key"
        key_file.write_text(RUNDOWN_BAD_KEY + "\n", encoding="utf-8")
        status_port = free_port()
        text = CONFIG.format(
            state=tmp_path / "state",
            rundown_key=RUNDOWN_KEY,
            rundown=with_userinfo(s.rundown_url),
            key_file=key_file,
            rapid=with_userinfo(rapid_url),
            broke_key=RAPID_BROKE_KEY,
            refusing=with_userinfo(refusing_url),
            closed=with_userinfo(f"http://127.0.0.1:{free_port()}"),
            hook=f"json://hookuser:{HOOK_PASSWORD}@{s.hook_url.removeprefix('json://')}/alerts",
            dead=f"json://deaduser:{DEAD_PASSWORD}@127.0.0.1:{free_port()}/alerts",
            telegram=TELEGRAM_TOKEN,
            status_port=status_port,
        )
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        config = load_config(path, ENV)
        surfaces["show-config"] = show_config(config)
        recordings = tmp_path / "recordings"
        recordings.mkdir()
        feeds, recorders = feeds_recording(config, recordings)
        daemon = Daemon(config, feeds=feeds, load=partial(load_config, env=ENV))

        async with running(daemon):
            # Refused keys: at the handshake (401, 403) and by REST; out of credits.
            refused = [feed(daemon, n) for n in ("rundown-bad", "rapid-bad", "rapid-refused")]
            given_up = (FeedState.REFUSED, FeedState.FAILED)
            await until(lambda: all(f.stats.state in given_up for f in refused), WAIT)
            await until(lambda: bool(feed(daemon, "rapid-broke").stats.last_error), WAIT)
            # Nothing listening: network errors, again and again.
            await until(lambda: feed(daemon, "rapid-closed").stats.reconnects >= 2, WAIT)
            # Malformed frames on both providers' live sockets.
            await until(lambda: feed(daemon, "rundown").stats.state is FeedState.UP, WAIT)
            await until(lambda: feed(daemon, "rapid").stats.frames > 0, WAIT)
            s.rundown.faults.malformed_frames = 1
            rapid.faults.malformed_frames = 1
            # TheRundown's heartbeats come every 0.5 s: one of them is the frame broken.
            await until(lambda: feed(daemon, "rundown").stats.malformed >= 1, WAIT)
            await until(lambda: feed(daemon, "rapid").stats.malformed >= 1, WAIT)
            # Then an arbitrage, to be alerted to channels that fail.
            s.price(s.events[0], arb(2.10, 2.10))
            # Channels failing: one answers 500, one refuses the connection.
            await until(lambda: failed(daemon, "hook") >= 1 and failed(daemon, "dead") >= 1, WAIT)
            # A reload of a broken config, secrets in it where they are refused.
            path.write_text(_broken(text), encoding="utf-8")
            assert await daemon.apply_reload("config file changed") is False
            async with httpx.AsyncClient(timeout=WAIT) as client:
                base = f"http://127.0.0.1:{status_port}"
                surfaces["/status"] = (await client.get(f"{base}/status")).text
                surfaces["/metrics"] = (await client.get(f"{base}/metrics")).text
            health = daemon.health()

        with pytest.raises(ConfigError) as broken:
            load_config(path, ENV)
        surfaces["config error"] = str(broken.value)
    for recorder in recorders:
        recorder.close()
    surfaces["feed errors"] = "\n".join(
        f"{f.name}: {f.last_error} / {f.fatal_error}" for f in health.feeds
    )
    surfaces["channel errors"] = "\n".join(f"{c.name}: {c.last_error}" for c in health.channels)
    surfaces["log"] = daemon_log.getvalue()
    for recording in sorted(recordings.iterdir()):
        text = gzip.decompress(recording.read_bytes()).decode("utf-8")
        surfaces[f"recording {recording.name}"] = text

    leaks = [
        f"{secret} in {where}"
        for where, text in surfaces.items()
        for secret in SECRETS
        if secret in text
    ]
    assert leaks == []
    # Each surface was there, and said what happened, redacted.
    log = surfaces["log"]
    assert f"connecting to ws://***@127.0.0.1:{rapid_url.rsplit(':', 1)[1]}" in log
    assert "still running the old one" in log
    assert "HTTP 401" in surfaces["feed errors"]
    assert "HTTP 403" in surfaces["feed errors"]
    assert "network" in surfaces["feed errors"]
    assert all(c.last_error for c in health.channels if c.name in ("hook", "dead"))
    assert "base_url: http://***@127.0.0.1" in surfaces["show-config"]
    assert "ftp://***@127.0.0.1" in surfaces["config error"]
    assert '"state_dir"' in surfaces["/status"]
    assert "arbwatch_feed_up" in surfaces["/metrics"]
    # A file per feed that received anything (rapid-closed never did), named by the feed.
    recorded = {
        name.removeprefix("recording ").rsplit("-", 1)[0]: text
        for name, text in surfaces.items()
        if name.startswith("recording ")
    }
    assert {"rapid", "rundown", "rapid-broke"} <= set(recorded) <= {f.name for f in config.feeds}
    assert "api_key=***" in recorded["rapid"]
    assert '"channel": "rest:' in recorded["rundown"]


def _broken(text: str) -> str:
    """``text`` broken in ways that quote what was written: a relay URL of the wrong
    scheme (its password in it), a key that is not a RapidOddsAPI key, an unknown key."""
    return (
        text.replace("base_url: http://", "base_url: ftp://")
        .replace("api_key: " + RAPID_BROKE_KEY, f"api_key: not-oa-{RAPID_BROKE_KEY}", 1)
        .replace("odds_format: decimal", f"odds_format: decimal\nodds_formatt: {RELAY_PASSWORD}")
    )
