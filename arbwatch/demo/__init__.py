"""``arbwatch demo``: the real daemon against arbwatch's own simulators, with no API key.

The simulators of RapidOddsAPI and TheRundown serve one simulated world on 127.0.0.1; the
daemon connects to them exactly as it would to the providers, through the same config
loader (`config.yaml` beside this module), and alerts to the console, plus any apprise URL
given with ``--notify`` so a user can see an alert arrive on their phone. ``--status`` turns
on the status listener (Prometheus ``/metrics``, ``/status`` and ``arbwatch status``) on a
loopback address, to see the daemon's health without a config of one's own.

The world starts at the current time and moves every `STEP_INTERVAL` seconds. Its soft
books now and then leave a price behind the market for a few steps, which is what makes
arbitrage and +EV prices appear; the same seed gives the same prices in the same order.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Final

from arbwatch.config import parse_config
from arbwatch.config.model import ChannelConfig, Config, Secret, is_loopback, split_listen
from arbwatch.daemon import Daemon
from arbwatch.errors import ConfigError
from arbwatch.notify.urls import apprise_url_problem
from arbwatch.pipes import stop_when_reader_gone
from arbwatch.runner import run_daemon
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import World

#: Seconds between moves of the simulated market.
STEP_INTERVAL: Final = 1.0
#: Seconds between RapidOddsAPI snapshot pushes (real scrape cycles are longer).
PUSH_INTERVAL: Final = 2.0
#: The seed whose world is shown unless another is asked for.
DEFAULT_SEED: Final = 7
#: How often a soft book leaves a price behind, and how far books stray from the fair price
#: by noise: both below the world's defaults, so that the console shows a readable few
#: alerts a minute, nearly all from prices left behind, rather than a flood.
STALE_RATE: Final = 0.004
NOISE: Final = 0.005
#: How fast fair prices walk per step: half the world's default, closer to a real
#: pre-match market, so an EV price left behind does not grow by a point every second.
DRIFT: Final = 0.015


def demo_config(
    rapidodds_url: str,
    rundown_url: str,
    state_dir: Path,
    notify: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    status: str | None = None,
) -> Config:
    """The demo's config, pointed at the simulators, with ``notify`` URLs as extra channels.

    With ``status``, the status listener serves there.

    Raises:
        ConfigError: a ``notify`` URL apprise does not know, or a ``status`` address that
            is not host:port on loopback.
    """
    text = resources.files(__package__).joinpath("config.yaml").read_text(encoding="utf-8")
    values = dict(os.environ if env is None else env)
    values.update(
        ARBWATCH_DEMO_RAPIDODDS_URL=rapidodds_url,
        ARBWATCH_DEMO_RUNDOWN_URL=rundown_url,
        ARBWATCH_DEMO_STATE=str(state_dir),
    )
    config = parse_config(text, source=None, env=values)
    config = dataclasses.replace(config, status_listen=status_listen(status))
    extra = notify_channel(notify)
    if extra is None:
        return config
    rules = tuple(
        dataclasses.replace(rule, notify=(*rule.notify, extra.name)) for rule in config.rules
    )
    return dataclasses.replace(config, channels={**config.channels, extra.name: extra}, rules=rules)


def notify_channel(notify: Sequence[str]) -> ChannelConfig | None:
    """The channel ``--notify`` URLs make (None without any).

    Raises:
        ConfigError: a URL apprise does not know, named by its position and scheme only.
    """
    if not notify:
        return None
    problems = [
        f"--notify #{number}: {why}"
        for number, url in enumerate(notify, 1)
        if (why := apprise_url_problem(url)) is not None
    ]
    if problems:
        raise ConfigError(problems)
    return ChannelConfig(name="notify", urls=tuple(Secret(url) for url in notify))


def status_listen(listen: str | None) -> str | None:
    """The ``--status`` address, checked: host:port on a loopback address (None: none).

    The demo takes no ``allow_remote``: it is for trying arbwatch on this machine.

    Raises:
        ConfigError: not host:port, or not loopback.
    """
    if listen is None:
        return None
    try:
        host, _ = split_listen(listen)
    except ValueError as error:
        why = f": {error}" if str(error) else ""
        raise ConfigError(
            [f"--status: expected host:port like 127.0.0.1:9464, got {listen!r}{why}"]
        ) from None
    if not is_loopback(host):
        raise ConfigError(
            [f"--status: the demo listens on loopback only (127.0.0.1, [::1]), not {host}"]
        )
    return listen.strip()


async def run_demo(
    *,
    seconds: float | None = None,
    notify: Sequence[str] = (),
    seed: int = DEFAULT_SEED,
    status: str | None = None,
) -> Daemon:
    """Serve the simulators, run the daemon against them; return it once it has stopped.

    Raises:
        ConfigError: a ``notify`` URL apprise does not know or a ``status`` address that is
            not loopback host:port (before anything starts).
    """
    notify_channel(notify)
    status_listen(status)
    world = World(seed, now=time.time(), stale_rate=STALE_RATE, noise=NOISE, drift=DRIFT)
    rundown = RundownSimulator(world, clock=time.time)
    rapidodds = RapidOddsSimulator(world, clock=time.time, push_interval=PUSH_INTERVAL)
    with tempfile.TemporaryDirectory(prefix="arbwatch-demo-") as state:
        async with serve(rapidodds) as rapidodds_url, serve(rundown) as rundown_url:
            config = demo_config(rapidodds_url, rundown_url, Path(state), notify, status=status)
            daemon = Daemon(config)

            async def move_the_world() -> None:
                # The TheRundown simulator steps the shared world and pushes the changes;
                # the RapidOddsAPI simulator renders the same world on each push.
                await rundown.run(STEP_INTERVAL)

            async def stop_when_unread() -> None:
                # `arbwatch demo | head -3`: once head has its lines, stop, as Unix tools do.
                await stop_when_reader_gone(daemon.stop)

            await run_daemon(daemon, seconds=seconds, companions=[move_the_world, stop_when_unread])
    return daemon
