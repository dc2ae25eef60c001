"""What ``arbwatch bench --e2e`` measures: its settings and command-line flags.

Kept apart from `arbwatch.bench.e2e`, which imports the simulators and their server, so
that the command line stays quick to start.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Final

from arbwatch.errors import ArbwatchError

#: The rates measured when none are given; None is "as fast as it can".
DEFAULT_RATES: Final[tuple[int | None, ...]] = (1000, 3000, 5000, None)
#: The board when no size is given: 1,000 games x 3 markets x 20 books, 120,000 prices.
DEFAULT_EVENTS: Final = 1000
DEFAULT_BOOKS: Final = 20


class BenchSettingsError(ArbwatchError, ValueError):
    """A ``bench --e2e`` flag that cannot be measured."""


@dataclass(frozen=True, kw_only=True)
class E2eSettings:
    """What one ``bench --e2e`` measures; every size a flag of the command."""

    events: int = DEFAULT_EVENTS
    books: int = DEFAULT_BOOKS
    rates: tuple[int | None, ...] = DEFAULT_RATES
    seconds: float = 10.0
    plant_every: float = 3.0
    bare_seconds: float = 5.0
    duration: float = 0.0
    push: bool = True
    pushes: int = 3
    #: Seconds between RapidOddsAPI pushes: room for the slowest daemon to take one in.
    push_interval: float = 15.0
    seed: int = 1

    def __post_init__(self) -> None:
        """Refuse sizes that measure nothing, saying which."""
        if self.events < 1 or self.books < 3:
            raise BenchSettingsError("--events must be 1 or more and --books 3 or more")
        if not self.rates or any(rate is not None and rate < 1 for rate in self.rates):
            raise BenchSettingsError("--rates: positive frames a second, or max")
        if min(self.seconds, self.plant_every, self.bare_seconds) <= 0:
            raise BenchSettingsError("--seconds, --plant-every and --bare-seconds must be positive")
        if self.push_interval <= 0:
            raise BenchSettingsError("--push-interval must be positive")
        if self.duration < 0 or self.pushes < 1:
            raise BenchSettingsError("--duration must be 0 or more and --pushes 1 or more")


def parse_rates(text: str) -> tuple[int | None, ...]:
    """``"1000,3000,max"`` -> (1000, 3000, None); a `BenchSettingsError` naming the bad one."""
    rates: list[int | None] = []
    for part in text.split(","):
        word = part.strip().lower()
        if word == "max":
            rates.append(None)
        elif word.isdigit() and int(word) > 0:
            rates.append(int(word))
        else:
            raise BenchSettingsError(
                f"--rates: expected frames a second or max, got {part.strip()!r}"
            )
    return tuple(rates)


def add_e2e_arguments(bench: argparse.ArgumentParser) -> None:
    """The ``--e2e`` flags of ``arbwatch bench``."""
    e2e = bench.add_argument_group("end to end (--e2e)")
    e2e.add_argument(
        "--e2e",
        action="store_true",
        help="the real daemon against the simulators over loopback, from socket to alert",
    )
    e2e.add_argument(
        "--rates",
        default="1000,3000,5000,max",
        help="TheRundown frames a second to offer, in turn; max keeps the socket full "
        "(1000,3000,5000,max)",
    )
    e2e.add_argument("--seconds", type=float, default=10.0, help="seconds per rate (10)")
    e2e.add_argument(
        "--plant-every", type=float, default=3.0, help="seconds between planted arbitrages (3)"
    )
    e2e.add_argument(
        "--bare-seconds", type=float, default=5.0, help="seconds of the bare client's read (5)"
    )
    e2e.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="then seconds at full speed, memory sampled (0: none; 600 for the 10-minute check)",
    )
    e2e.add_argument("--pushes", type=int, default=3, help="RapidOddsAPI big pushes timed (3)")
    e2e.add_argument(
        "--push-interval", type=float, default=15.0, help="seconds between those pushes (15)"
    )
    e2e.add_argument(
        "--no-push", action="store_true", help="leave out the RapidOddsAPI big-push part"
    )


def e2e_settings(args: argparse.Namespace) -> E2eSettings:
    """The settings the parsed flags ask for."""
    return E2eSettings(
        events=DEFAULT_EVENTS if args.events is None else args.events,
        books=DEFAULT_BOOKS if args.books is None else args.books,
        rates=parse_rates(args.rates),
        seconds=args.seconds,
        plant_every=args.plant_every,
        bare_seconds=args.bare_seconds,
        duration=args.duration,
        push=not args.no_push,
        pushes=args.pushes,
        push_interval=args.push_interval,
        seed=args.seed,
    )
