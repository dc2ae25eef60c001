"""Figures, not a test: the daemon soaked for minutes at a set rate, with faults sprinkled in.

Runs both providers' simulators in a process of their own (`tests.soak_sims`) and the
daemon as another (``python -m arbwatch run -c CONFIG``), everything on 127.0.0.1, for
``--minutes`` (10 by default) with the world moving at about ``--rate`` updates a second.
On a schedule drawn from ``--seed`` it drops every provider connection for a few seconds
(the daemon reconnects), reloads the config (SIGHUP, and edits the file the daemon
watches), and ``kill -9``'s the daemon and starts it again. Alerts go to a ``json://``
receiver in this process. It prints:

- the daemon's resident memory every ``--sample`` seconds, and its growth after warm-up
  (from the end of each process's warm-up to its last sample; target under 10 %);
- frames lost other than the provider's drops: per window between two kills, what the
  simulators sent on that window's connections against the frames the daemon's
  ``/metrics`` counted (target none). A window ends with the simulators silent until the
  daemon's count stands still, so nothing is in flight when the two are read;
- duplicated alerts: the same alert (title, bets and rule) twice on one channel with no
  GONE between (target none), and, apart, those sent again after a ``kill -9``, which
  at-least-once delivery allows once per channel per kill; and per window, the alerts the
  daemon counted as sent and dropped against those the receiver got.

Every wait is bounded and every process it started is ended on exit or Ctrl-C::

    python -m tests.soak                 # 10 minutes at 1,000 updates/s
    python -m tests.soak --minutes 2     # a short one
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import anyio
import httpx
from anyio.abc import ByteSendStream, Process
from anyio.streams.buffered import BufferedByteReceiveStream

from arbwatch.bench.e2e_process import end_process
from tests.sinks import JsonReceiver, json_receiver

LOOPBACK: Final = "127.0.0.1"
#: How long the daemon may take to answer /metrics after it is started.
START_TIMEOUT: Final = 60.0
#: How long the simulators may take to answer one command.
COMMAND_TIMEOUT: Final = 10.0
#: A window ends once the daemon's frame count has stood still this long with the
#: simulators silent; it gives up waiting after `SETTLE_TIMEOUT`.
SETTLE_QUIET: Final = 1.5
SETTLE_TIMEOUT: Final = 20.0
#: How long a stopping daemon gets after SIGTERM before it is killed.
STOP_TIMEOUT: Final = 30.0
#: An alert received again this soon after a restart, first received before the kill, is
#: counted as sent again after the kill (the rules' freshness is 2 minutes).
RESEND_WINDOW: Final = 150.0
#: How long each provider drop lasts, drawn between these, in seconds.
DROP_SECONDS: Final = (1.0, 5.0)
#: Faults per minute of soak, and kills per 10 minutes.
DROPS_PER_MINUTE: Final = 0.8
RELOADS_PER_MINUTE: Final = 0.4
KILLS_PER_TEN_MINUTES: Final = 2

CONFIG: Final = """\
odds_format: american
currency: "$"
bankroll: 1000
stake_round: 1
state_dir: {state}
watch_config: true
status:
  listen: {status}
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: oa_sim_pro
    base_url: {rapidoddsapi}
    sports: [NBA, NFL, EPL]
    bookmakers: [DraftKings, BetMGM, Bet365, Fanatics]
    market_types: [head_to_head, head_to_head_3_way, alternate_lines, alternate_total_points]
  - name: rundown
    provider: therundown
    api_key: rundown-sim-key
    base_url: {therundown}
    sport_ids: [4, 2, 11]
    market_ids: [1, 2, 3]
    affiliate_ids: [3, 19, 23, 22, 2, 40, 41]  # every book of the world
channels:
  phone: {hook}/phone
rules:
  - name: any-arbitrage
    kind: arbitrage
    min_profit: 1%
    max_profit: 15%
    max_quote_age: 2m
    notify: [phone]
    repeat: 10m
    improve_by: 1%
    gone: true
  - name: pinnacle-ev
    kind: positive_ev
    sharp: [Pinnacle]
    devig: worst_case
    min_ev: 3%
    max_ev: 20%
    kelly_fraction: 0.25
    max_quote_age: 2m
    notify: [phone]
    repeat: {repeat}
    improve_by: 1%
    gone: true
"""
FEED_PROVIDERS: Final = {"rapid": "rapidoddsapi", "rundown": "therundown"}
#: A labelled sample of /metrics: family, the first label's value, the value.
_METRIC = re.compile(r'^arbwatch_(\w+)\{\w+="([^"]+)"[^}]*\} (\S+)$')
_QUOTE_AGE = re.compile(r"\s*\(quote [^)]*\)")
_START_LINE = re.compile(r" · (starts in|live)|^Start time unknown")


# --- the schedule ----------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Fault:
    """One fault at ``at`` seconds into the soak: drop, sighup, edit or kill."""

    at: float
    kind: str
    seconds: float = 0.0


def schedule(minutes: float, seed: int) -> list[Fault]:
    """The faults of a soak, drawn from ``seed``: the same seed, the same soak.

    Kills fall in the second half, at least a minute apart, so the first daemon lives past
    its warm-up long enough for its growth to mean something.
    """
    rng = random.Random(seed)  # a reproducible schedule, not a secret
    duration = minutes * 60.0
    end = max(duration - 20.0, 10.0)
    faults = [
        Fault(rng.uniform(10.0, end), "drop", rng.uniform(*DROP_SECONDS))
        for _ in range(max(1, round(minutes * DROPS_PER_MINUTE)))
    ]
    for kind in ("sighup", "edit"):
        faults += [
            Fault(rng.uniform(10.0, end), kind)
            for _ in range(max(1, round(minutes * RELOADS_PER_MINUTE / 2)))
        ]
    kills: list[float] = []
    for _ in range(max(1, round(minutes * KILLS_PER_TEN_MINUTES / 10))):
        for _attempt in range(100):
            at = rng.uniform(duration * 0.5, max(duration * 0.9, duration - 30.0))
            if all(abs(at - other) >= 60.0 for other in kills):
                kills.append(at)
                break
    faults += [Fault(at, "kill") for at in kills]
    return sorted(faults)


# --- the processes ---------------------------------------------------------------------------


class Simulators:
    """The simulators' process, spoken to one JSON line at a time."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self._stdin: ByteSendStream = process.stdin
        self._stdout = BufferedByteReceiveStream(process.stdout)

    async def line(self) -> dict[str, Any]:
        """The next JSON line it prints."""
        with anyio.fail_after(COMMAND_TIMEOUT):
            raw = await self._stdout.receive_until(b"\n", 1 << 20)
        value: dict[str, Any] = json.loads(raw)
        return value

    async def command(self, text: str) -> dict[str, Any]:
        """Send one command; its answer."""
        await self._stdin.send(text.encode() + b"\n")
        return await self.line()


@contextlib.asynccontextmanager
async def simulators(rate: float, seed: int) -> AsyncIterator[tuple[Simulators, dict[str, str]]]:
    """The simulators running in their own process, with their base URLs."""
    command = [sys.executable, "-m", "tests.soak_sims", "--rate", str(rate), "--seed", str(seed)]
    process = await anyio.open_process(command, stderr=None)
    sims = Simulators(process)
    try:
        urls = await sims.line()
        yield sims, {name: str(url) for name, url in urls.items()}
    finally:
        await end_process(process, signal.SIGTERM, STOP_TIMEOUT)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for the status listener."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def resident_mb(pid: int) -> float | None:
    """The resident memory of ``pid`` in MB; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


# --- what is measured ------------------------------------------------------------------------


@dataclass
class Window:
    """One daemon process's life, between two kills (or the start and the end)."""

    number: int
    started: float
    pid: int
    ended: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    updates: int = 0
    #: Alerts the daemon counted as sent and as dropped, and those the receiver got.
    alerts_sent: int = 0
    alerts_dropped: int = 0
    alerts_received: int = 0
    rss: list[tuple[float, float]] = field(default_factory=list)
    exit_status: int | None = None


@dataclass
class Alert:
    """One alert the receiver got."""

    at: float
    channel: str
    title: str
    body: str

    @property
    def rule(self) -> str:
        """The rule named on the body's last line."""
        return self.body.rsplit("\n", 1)[-1]

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two alerts the same: title (kind, value, reason, game), bets, rule.

        Quote ages and the time to the start change between two sends of one alert.
        """
        lines = [
            _QUOTE_AGE.sub("", line)
            for line in self.body.split("\n")
            if not _START_LINE.search(line) and not line.startswith("Lasted ")
        ]
        return self.channel, self.title, "\n".join(lines)

    @property
    def gone_subject(self) -> tuple[str, str, str] | None:
        """For a GONE alert, the (channel, game and market, rule) it closes."""
        if not self.title.startswith("GONE · "):
            return None
        return self.channel, self.title.split(" · ", 2)[2], self.rule

    @property
    def subject(self) -> tuple[str, str, str]:
        """The (channel, game and market, rule) of an open opportunity's alert."""
        return self.channel, self.title.split(" · ", 1)[-1], self.rule


@dataclass
class Soak:
    """Everything one soak saw."""

    started: float
    windows: list[Window] = field(default_factory=list)
    kills: list[tuple[float, float]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    crashes: list[int | None] = field(default_factory=list)
    #: The simulators' process: its pid and resident memory samples (seconds, MB).
    sims_pid: int = 0
    sims_rss: list[tuple[float, float]] = field(default_factory=list)

    def now(self) -> float:
        """Seconds since the soak started."""
        return time.monotonic() - self.started


def duplicates(alerts: list[Alert], kills: list[tuple[float, float]]) -> tuple[int, Counter[int]]:
    """Duplicated alerts, and alerts sent again after each kill (by kill number).

    An alert received again with no GONE for its game and rule between is a duplicate,
    unless its first receipt came before a kill and this one within `RESEND_WINDOW` of the
    restart: at-least-once delivery resends what a kill cut short.
    """
    seen: dict[tuple[str, str, str], float] = {}
    by_subject: dict[tuple[str, str, str], set[tuple[str, str, str]]] = defaultdict(set)
    plain = 0
    resent: Counter[int] = Counter()
    for alert in alerts:
        closed = alert.gone_subject
        if closed is not None:
            for identity in by_subject.pop(closed, set()):
                seen.pop(identity, None)
            continue
        identity = alert.identity
        first = seen.get(identity)
        if first is not None:
            after_kill = [
                number
                for number, (killed, restarted) in enumerate(kills, 1)
                if first <= killed and 0.0 <= alert.at - restarted <= RESEND_WINDOW
            ]
            if after_kill:
                resent[after_kill[-1]] += 1
            else:
                plain += 1
        seen[identity] = alert.at
        by_subject[alert.subject].add(identity)
    return plain, resent


# --- the soak --------------------------------------------------------------------------------


class Daemon:
    """The daemon's process and how to look at it."""

    def __init__(self, config: Path, status: str, log: TextIO) -> None:
        self.config = config
        self.status = status
        self.log = log
        self.process: Process | None = None

    async def start(self) -> Process:
        """Start it; return once /metrics answers."""
        self.process = await anyio.open_process(
            [sys.executable, "-m", "arbwatch", "run", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        with anyio.fail_after(START_TIMEOUT):
            while await self.metrics() is None:
                if self.process.returncode is not None:
                    raise RuntimeError(f"the daemon exited {self.process.returncode} at start")
                await anyio.sleep(0.2)
        return self.process

    async def metrics(self) -> dict[str, dict[str, float]] | None:
        """Labelled samples of /metrics; None if it did not answer.

        As family -> the first label's value (a feed, a channel) -> value, summed over the
        other labels.
        """
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(f"http://{self.status}/metrics")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        families: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for line in response.text.splitlines():
            match = _METRIC.match(line)
            if match is not None:
                families[match[1]][match[2]] += float(match[3])
        return families

    async def frames(self) -> dict[str, int] | None:
        """Frames counted per provider, or None if /metrics did not answer."""
        metrics = await self.metrics()
        if metrics is None:
            return None
        counted = metrics.get("feed_frames_total", {})
        return {FEED_PROVIDERS[feed]: int(value) for feed, value in counted.items()}

    async def total(self, family: str) -> int:
        """A family summed over its labels, e.g. every feed's updates (0 if no answer)."""
        metrics = await self.metrics()
        return 0 if metrics is None else int(sum(metrics.get(family, {}).values()))


async def settle(daemon: Daemon, sims: Simulators, soak: Soak) -> None:
    """End the window: silence the simulators, wait for the count to stand, read both."""
    window = soak.windows[-1]
    await sims.command("silent on")
    last: dict[str, int] | None = None
    still_since = time.monotonic()
    with anyio.move_on_after(SETTLE_TIMEOUT):
        while True:
            counted = await daemon.frames()
            if counted != last:
                last, still_since = counted, time.monotonic()
            elif time.monotonic() - still_since >= SETTLE_QUIET:
                break
            await anyio.sleep(0.25)
    window.received = last or {}
    window.updates = await daemon.total("feed_updates_total")
    window.alerts_sent = await daemon.total("alerts_sent_total")
    window.alerts_dropped = await daemon.total("alerts_dropped_total")
    window.alerts_received = len(soak.alerts) - sum(w.alerts_received for w in soak.windows[:-1])
    window.sent = {
        name: int(count) for name, count in (await sims.command(f"counts {window.number}")).items()
    }


async def watch_memory(soak: Soak, every: float) -> None:
    """Sample the daemon's and the simulators' resident memory every ``every`` s, for ever."""
    while True:
        window = soak.windows[-1]
        mb = resident_mb(window.pid)
        if mb is not None:
            window.rss.append((soak.now(), mb))
        mb = resident_mb(soak.sims_pid)
        if mb is not None:
            soak.sims_rss.append((soak.now(), mb))
        await anyio.sleep(every)


async def take_alerts(hook: JsonReceiver, soak: Soak) -> None:
    """Record every alert the receiver gets, as it comes, for ever."""
    while True:
        try:
            post = await hook.next_post(60.0)
        except TimeoutError:
            continue
        soak.alerts.append(Alert(soak.now(), post["path"], post["title"], post["message"]))


async def new_window(soak: Soak, daemon: Daemon, sims: Simulators) -> None:
    """Start the daemon for the next window."""
    number = len(soak.windows) + 1
    await sims.command(f"window {number}")
    process = await daemon.start()
    soak.windows.append(Window(number, soak.now(), process.pid))
    await sims.command("silent off")


async def inflict(fault: Fault, soak: Soak, daemon: Daemon, sims: Simulators, text: str) -> None:
    """Do one fault."""
    process = daemon.process
    assert process is not None
    soak.faults[fault.kind] += 1
    if fault.kind == "drop":
        await sims.command(f"drop {fault.seconds:.1f}")
    elif fault.kind == "sighup":
        process.send_signal(signal.SIGHUP)
    elif fault.kind == "edit":
        # The reminder interval of one rule moves between 10 and 11 minutes: a real change
        # the daemon applies, which touches no feed.
        minutes = 10 + soak.faults["edit"] % 2
        daemon.config.write_text(text.replace("{repeat}", f"{minutes}m"), "utf-8")
    elif fault.kind == "kill":
        window = soak.windows[-1]
        await settle(daemon, sims, soak)
        killed = soak.now()
        process.kill()
        window.exit_status = await process.wait()
        window.ended = killed
        await new_window(soak, daemon, sims)
        soak.kills.append((killed, soak.windows[-1].started))


async def run(args: argparse.Namespace) -> Soak:
    """The whole soak; returns what it saw."""
    faults = schedule(args.minutes, args.seed)
    duration = args.minutes * 60.0
    with tempfile.TemporaryDirectory(prefix="arbwatch-soak-") as tmp:
        config = Path(tmp) / "config.yaml"
        async with (
            simulators(args.rate, args.seed) as (sims, urls),
            json_receiver() as (hook, hook_url),
        ):
            text = CONFIG.format(
                state=Path(tmp) / "state",
                status=f"{LOOPBACK}:{free_port()}",
                hook=hook_url,
                repeat="{repeat}",
                **urls,
            )
            config.write_text(text.replace("{repeat}", "10m"), "utf-8")
            status = text.split("listen: ", 1)[1].split("\n", 1)[0]
            with (Path(tmp) / "daemon.log").open("w") as log:
                daemon = Daemon(config, status, log)
                soak = Soak(time.monotonic(), sims_pid=sims.process.pid)
                try:
                    async with anyio.create_task_group() as group:
                        await new_window(soak, daemon, sims)
                        group.start_soon(watch_memory, soak, args.sample)
                        group.start_soon(take_alerts, hook, soak)
                        await follow(soak, faults, duration, daemon, sims, text)
                        window = soak.windows[-1]
                        await settle(daemon, sims, soak)
                        window.ended = soak.now()
                        assert daemon.process is not None
                        window.exit_status = await end_process(
                            daemon.process, signal.SIGTERM, STOP_TIMEOUT
                        )
                        group.cancel_scope.cancel()
                finally:
                    if daemon.process is not None:
                        await end_process(daemon.process, signal.SIGKILL, STOP_TIMEOUT)
            published = (await sims.command("published"))["published"]
            print(f"world changes published: {published:,} ({published / duration:,.0f}/s)")
    return soak


async def follow(
    soak: Soak, faults: list[Fault], duration: float, daemon: Daemon, sims: Simulators, text: str
) -> None:
    """Inflict ``faults`` at their times until ``duration``; restart a daemon that died."""
    pending = list(faults)
    while soak.now() < duration:
        process = daemon.process
        assert process is not None
        if process.returncode is not None:
            # Not a kill of ours: the daemon died. Counted, and started again.
            soak.crashes.append(process.returncode)
            soak.windows[-1].ended = soak.now()
            soak.windows[-1].exit_status = process.returncode
            await new_window(soak, daemon, sims)
        if pending and soak.now() >= pending[0].at:
            await inflict(pending.pop(0), soak, daemon, sims, text)
            continue
        await anyio.sleep(0.5)


# --- the report ------------------------------------------------------------------------------


def report(soak: Soak, args: argparse.Namespace) -> None:
    """Print the figures."""
    duration = args.minutes * 60.0
    print(f"\nsoak: {args.minutes:g} min at --rate {args.rate:g}, seed {args.seed}")
    updates = sum(window.updates for window in soak.windows)
    print(f"updates the daemon took in: {updates:,} ({updates / duration:,.0f}/s)")
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(soak.faults.items()))
    print(f"faults: {faults}; daemon crashes (not ours): {len(soak.crashes)} {soak.crashes}")
    print("\nresident memory (MB):")
    for window in soak.windows:
        samples = ", ".join(f"{at:.0f}s {mb:.1f}" for at, mb in window.rss[:: args.print_every])
        print(f"  window {window.number} (pid {window.pid}): {samples}")
    samples = ", ".join(f"{at:.0f}s {mb:.1f}" for at, mb in soak.sims_rss[:: args.print_every])
    print(f"  simulators (pid {soak.sims_pid}): {samples}")
    print(f"\ngrowth after the first {args.warmup:g} s of each process:")
    for window in soak.windows:
        after = [mb for at, mb in window.rss if at - window.started >= args.warmup]
        if len(after) < 2:
            lived = window.ended - window.started
            print(f"  window {window.number}: lived {lived:.0f} s, not past the warm-up")
            continue
        growth = (after[-1] - after[0]) / after[0]
        print(
            f"  window {window.number}: {after[0]:.1f} -> {after[-1]:.1f} MB "
            f"({growth:+.1%}, peak {max(after):.1f}) over {window.ended - window.started:.0f} s"
        )
    after = [mb for at, mb in soak.sims_rss if at >= args.warmup]
    if len(after) >= 2:
        growth = (after[-1] - after[0]) / after[0]
        print(f"  simulators: {after[0]:.1f} -> {after[-1]:.1f} MB ({growth:+.1%})")
    print("\nframes per window (sent by the simulators / counted by the daemon):")
    lost = 0
    for window in soak.windows:
        parts = []
        for provider in FEED_PROVIDERS.values():
            sent = window.sent.get(provider, 0)
            got = window.received.get(provider, 0)
            lost += max(sent - got, 0)
            parts.append(f"{provider} {sent:,} / {got:,} (lost {sent - got:,})")
        print(f"  window {window.number}: " + "; ".join(parts))
    print(f"frames lost other than the provider's drops: {lost}")
    print("\nalerts per window (the daemon's count of sent, dropped / the receiver's):")
    for window in soak.windows:
        print(
            f"  window {window.number}: sent {window.alerts_sent}, dropped "
            f"{window.alerts_dropped} / received {window.alerts_received}"
        )
    plain, resent = duplicates(soak.alerts, soak.kills)
    channels = len({alert.channel for alert in soak.alerts})
    print(f"\nalerts received: {len(soak.alerts)} on {channels} channel(s)")
    print(f"duplicated alerts: {plain}")
    for number in range(1, len(soak.kills) + 1):
        print(f"sent again after kill -9 #{number}: {resent[number]} (allowed: 1 per channel)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (10)")
    parser.add_argument("--rate", type=float, default=1000.0, help="updates a second (1000)")
    parser.add_argument("--seed", type=int, default=1, help="the fault schedule's seed (1)")
    parser.add_argument("--warmup", type=float, help="seconds (a fifth of it, at most 120)")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--print-every", type=int, default=6, help="print every Nth sample")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.sample <= 0:
        parser.error("--minutes, --rate and --sample must be positive")
    if args.warmup is None:
        args.warmup = min(120.0, args.minutes * 12.0)
    return args


async def run_until_signalled(args: argparse.Namespace) -> Soak | None:
    """`run`, or None once SIGINT or SIGTERM stopped it (every process it started ended).

    The signals are caught here, not left to Python's default, so that ``run``'s cleanup
    happens even for SIGTERM, and for SIGINT when a shell started the soak in the
    background (with SIGINT ignored).
    """
    soak: Soak | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(stop_on_signals, group.cancel_scope)
        soak = await run(args)
        group.cancel_scope.cancel()
    return soak


async def stop_on_signals(scope: anyio.CancelScope) -> None:
    """Cancel ``scope`` at the first SIGINT or SIGTERM."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for number in signals:
            print(f"{signal.Signals(number).name}: stopping the soak", flush=True)
            scope.cancel()
            return


def main() -> int:
    """Run the soak and print its figures; the exit status."""
    args = parse_args()
    for fault in schedule(args.minutes, args.seed):
        extra = f" for {fault.seconds:.1f} s" if fault.kind == "drop" else ""
        print(f"scheduled: {fault.at:6.1f}s {fault.kind}{extra}", flush=True)
    soak = anyio.run(run_until_signalled, args)
    if soak is None:
        print("stopped before the end: no figures")
        return 130
    report(soak, args)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
