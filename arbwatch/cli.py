"""The ``arbwatch`` command line: parses arguments and turns every error into one line.

Subcommands: ``run`` (the daemon), ``demo`` (the daemon against the simulators),
``check-config``, ``show-config``, ``test-notify``, ``status``, ``history`` (see
`arbwatch.commands`), ``calc arb``, ``calc ev`` (a bettor's calculator), ``replay``
(recorded frames through the engine), ``backtest`` (recordings under a config's rules, see
`arbwatch.backtest`) and ``bench`` (engine figures). Errors arbwatch raises on
purpose (`ArbwatchError`) and argument mistakes print ``arbwatch: error: ...`` on one line
and exit 2; they never show a traceback. A config that cannot be used exits 78 from every
command (`arbwatch.commands`); output whose reader went away ends quietly with 141.

Flags are named as the config's keys (``--odds-format``, ``--stake-round``,
``--kelly-fraction``, ``--max-quote-age``) and read by its parsers (`arbwatch.cliargs`);
the names they had before are kept as aliases.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from arbwatch import __version__, cliargs, commands
from arbwatch.bench.e2e_settings import add_e2e_arguments, e2e_settings
from arbwatch.calc import ArbQuestion, EvQuestion, answer_arb, answer_ev
from arbwatch.core.devig import DevigMethod
from arbwatch.core.odds import OddsFormat, parse_prices
from arbwatch.errors import ArbwatchError
from arbwatch.pipes import EXIT_BROKEN_PIPE, silence_stdout

#: Exit status for bad input, as argparse uses.
EXIT_USAGE = 2


class _UsageError(Exception):
    """An argument mistake, raised instead of argparse's print-usage-and-exit."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, raised rather than printed."""

    def error(self, message: str) -> NoReturn:
        """Raise the message for `main` to print in one line with a pointer to --help."""
        raise _UsageError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, for `main` and for the tests."""
    parser = _Parser(
        prog="arbwatch",
        description="Arbitrage and positive-EV alerts from live bookmaker odds.",
    )
    parser.add_argument("--version", action="version", version=f"arbwatch {__version__}")
    subcommands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    _add_daemon_commands(subcommands)

    calc = subcommands.add_parser("calc", help="arbitrage and EV calculator")
    calc_kinds = calc.add_subparsers(
        dest="calc_kind", metavar="arb|ev", required=True, parser_class=_Parser
    )
    odds_help = "odds as decimal (2.10), American with its sign (+110, -105) or fractional (11/10)"

    arb = calc_kinds.add_parser(
        "arb",
        help="is there an arbitrage, and how to stake it",
        description="Check 2 or 3 prices, one per outcome, for an arbitrage and its stakes.",
    )
    arb.add_argument("odds", nargs="+", help=odds_help)
    arb.add_argument("--bankroll", type=cliargs.bankroll, default=1000.0, help="total stake (1000)")
    _add_stake_round(arb, "round stakes to multiples of STEP and show the profit that survives")
    arb.add_argument(
        "--commission",
        action="append",
        default=[],
        metavar="LEG=RATE",
        help="an exchange's commission on winnings for a leg, e.g. 2=2%% (repeatable)",
    )
    _add_odds_format(arb, "read and show every price in this format instead of guessing")

    ev = calc_kinds.add_parser(
        "ev",
        help="EV and Kelly stake of a price against a sharp market",
        description="Devig a sharp book's market and price a bet against its fair odds.",
    )
    ev.add_argument(
        "--fair",
        nargs="+",
        required=True,
        metavar="ODDS",
        help=f"the sharp book's prices, one per outcome; {odds_help}",
    )
    ev.add_argument("--price", required=True, help="the price offered for the bet")
    ev.add_argument(
        "--side",
        type=cliargs.whole_number(1, 3),
        default=1,
        help="which outcome of --fair the bet is on, from 1 (1)",
    )
    ev.add_argument(
        "--devig",
        choices=[m.value for m in DevigMethod],
        default=DevigMethod.WORST_CASE.value,
        help="devig method (worst_case)",
    )
    ev.add_argument("--bankroll", type=cliargs.bankroll, default=1000.0, help="bankroll (1000)")
    ev.add_argument(
        "--kelly-fraction",
        "--kelly",
        dest="kelly_fraction",
        type=cliargs.kelly_fraction,
        default=0.25,
        help="the share of full Kelly to stake, above 0 and at most 1 (0.25; --kelly is the "
        "old name)",
    )
    _add_stake_round(ev, "round the stake down to multiples of STEP")
    _add_odds_format(ev, "read and show every price in this format instead of guessing")

    replay = subcommands.add_parser(
        "replay",
        help="run recorded provider frames through the engine and print what it finds",
        description="Replay JSONL recordings of feed frames (merged in receive order), "
        "deterministically: with -c, what the config's rules would have alerted; without, "
        "each opportunity the options below find, once.",
    )
    replay.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a recording (.jsonl)")
    replay.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="use this config's rules and odds format (the options below are then ignored)",
    )
    replay.add_argument(
        "--sharp",
        action="append",
        type=cliargs.book_name,
        default=[],
        metavar="BOOK",
        help="a sharp book for +EV (repeatable; default Pinnacle)",
    )
    replay.add_argument(
        "--devig",
        choices=[m.value for m in DevigMethod],
        default=DevigMethod.WORST_CASE.value,
        help="devig method (worst_case)",
    )
    replay.add_argument(
        "--min-profit",
        type=cliargs.threshold,
        default=0.0,
        metavar="PCT",
        help="smallest arbitrage to report, e.g. 1%% (0)",
    )
    replay.add_argument(
        "--min-ev",
        type=cliargs.threshold,
        default=0.01,
        metavar="PCT",
        help="smallest +EV to report, e.g. 2%% (1%%)",
    )
    replay.add_argument(
        "--max-quote-age",
        "--max-age",
        dest="max_quote_age",
        type=cliargs.duration,
        default=60.0,
        metavar="AGE",
        help="oldest quote an opportunity may use, e.g. 60s or 2m (60s; --max-age is the old name)",
    )
    _add_odds_format(
        replay, "how to print prices (decimal; --odds is the old name)", "--odds", default="decimal"
    )

    _add_backtest_command(subcommands)

    bench = subcommands.add_parser("bench", help="measure the engine's speed and memory")
    bench.add_argument(
        "--events",
        type=cliargs.whole_number(1, cliargs.MAX_BENCH_EVENTS),
        default=None,
        help="events on the board (2000; --e2e 1000)",
    )
    bench.add_argument(
        "--books",
        type=cliargs.whole_number(2, cliargs.MAX_BENCH_BOOKS),
        default=None,
        help="bookmakers, at least 2 for an arbitrage (30; --e2e 20)",
    )
    bench.add_argument("--seed", type=cliargs.whole_number(0), default=1, help="random seed (1)")
    add_e2e_arguments(bench)
    return parser


def _add_backtest_command(subcommands: argparse._SubParsersAction[_Parser]) -> None:
    """``arbwatch backtest``; `arbwatch.backtest` runs it."""
    backtest = subcommands.add_parser(
        "backtest",
        help="run recordings through the config's rules and print the alerts that would "
        "have gone out",
        description="Run recordings (merged in receive order) through the daemon's engine, "
        "rules, quiet hours and alert lifecycle on the recorded clock; print each alert as "
        "sent, the alerts per rule, and the figures. Exits 78 on a config that cannot be used.",
    )
    commands.add_config_argument(backtest)
    backtest.add_argument(
        "recordings", nargs="+", type=Path, metavar="RECORDING", help="a recording (.jsonl)"
    )


def _add_stake_round(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--stake-round`` as the config's ``stake_round``; ``--round`` as its old name."""
    parser.add_argument(
        "--stake-round",
        "--round",
        dest="increment",
        type=cliargs.stake_round,
        default=0.0,
        metavar="STEP",
        help=f"{help_text} (--round is the old name)",
    )


def _add_odds_format(
    parser: argparse.ArgumentParser, help_text: str, *old: str, default: str | None = None
) -> None:
    """``--odds-format`` as the config's ``odds_format``; ``--format`` and ``old`` as aliases."""
    parser.add_argument(
        "--odds-format",
        "--format",
        *old,
        dest="odds_format",
        choices=[f.value for f in OddsFormat],
        default=default,
        help=help_text,
    )


def _add_daemon_commands(subcommands: argparse._SubParsersAction[_Parser]) -> None:
    """The daemon's subcommands; `arbwatch.commands` runs them."""
    levels = ["debug", "info", "warning", "error"]
    run = subcommands.add_parser(
        "run",
        help="run the daemon: watch the feeds, send alerts",
        description="Watch the configured feeds and send alerts until SIGTERM or Ctrl-C. "
        "SIGHUP, or an edit of the config file, reloads rules and channels.",
    )
    commands.add_config_argument(run)
    run.add_argument("--log-level", choices=levels, help="overrides the config's log_level")

    demo = subcommands.add_parser(
        "demo",
        help="see real alerts in seconds: the daemon against simulated providers",
        description="Run the daemon against simulators of RapidOddsAPI and TheRundown on "
        "127.0.0.1, alerting to the console. No API key needed.",
    )
    demo.add_argument(
        "--seconds",
        type=cliargs.duration,
        default=None,
        help="stop after this long, e.g. 30 or 2m (default: Ctrl-C)",
    )
    demo.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="URL",
        help="also alert to this apprise URL, e.g. tgram://TOKEN/CHAT (repeatable)",
    )
    demo.add_argument(
        "--seed", type=cliargs.whole_number(0), default=7, help="the simulated world's seed (7)"
    )
    demo.add_argument(
        "--status",
        metavar="HOST:PORT",
        help="serve /metrics and /status there, e.g. 127.0.0.1:9464 (loopback only)",
    )
    demo.add_argument("--log-level", choices=levels, help="log level (warning)")

    check = subcommands.add_parser(
        "check-config",
        help="check a config: exit 0 with a summary, or 78 with every problem",
        description="Check a config: exit 0 with a summary, or 78 (EX_CONFIG) with every "
        "problem. The file is given as -c FILE or as the argument.",
    )
    check.add_argument("file", nargs="?", type=Path, help="the YAML config (as -c FILE)")
    commands.add_config_argument(check)
    check.add_argument(
        "--online",
        action="store_true",
        help="also ask the providers (free requests) whether the books, sports and markets "
        "the config names exist",
    )
    show = subcommands.add_parser(
        "show-config", help="print the effective config, secrets redacted"
    )
    show.add_argument("file", nargs="?", type=Path, help="the YAML config (as -c FILE)")
    commands.add_config_argument(show)

    test_notify = subcommands.add_parser("test-notify", help="send a sample alert to one channel")
    test_notify.add_argument("channel", help="a channel name from the config")
    commands.add_config_argument(test_notify)

    status = subcommands.add_parser(
        "status",
        help="the running daemon's feeds, engine, live opportunities and last alerts",
        description="Ask the running daemon for its status, at the config's status.listen "
        "(or --url), and print it.",
    )
    commands.add_config_argument(status)
    status.add_argument(
        "--url",
        type=cliargs.base_url,
        help="the status listener's base URL, e.g. http://127.0.0.1:9464 (no config read)",
    )
    status.add_argument("--json", action="store_true", help="print the /status document as is")

    history = subcommands.add_parser(
        "history", help="the opportunities seen: when, how long, how good, alerts sent"
    )
    commands.add_config_argument(history)
    history.add_argument(
        "--limit", type=cliargs.whole_number(1), default=50, help="how many, newest first (50)"
    )
    history.add_argument("--rule", help="only this rule's")
    history.add_argument(
        "--clv",
        action="store_true",
        help="closing-line value per rule and per book: how the alerted prices did against "
        "the sharp books' price at the start",
    )


#: Subcommands whose function in `arbwatch.commands` returns the exit status.
_DAEMON_COMMANDS = {
    "run": commands.run,
    "demo": commands.demo,
    "check-config": commands.check_config,
    "show-config": commands.show_config,
    "test-notify": commands.test_notify,
    "status": commands.status,
    "history": commands.history,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command in _DAEMON_COMMANDS:
            return _DAEMON_COMMANDS[args.command](args)
        if args.command in _RECORDING_COMMANDS:
            return _RECORDING_COMMANDS[args.command](args)
        if args.command == "calc":
            lines = _calc(args)
            print("\n".join(lines))
        elif args.command == "bench" and args.e2e:
            from arbwatch.bench.e2e import run_e2e_bench  # noqa: PLC0415 - heavy, rare

            run_e2e_bench(e2e_settings(args))
        elif args.command == "bench":
            _bench(args)
    except BrokenPipeError:
        # What read our output is gone (`arbwatch demo | head -3`): end quietly.
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except BaseExceptionGroup as group:
        # The same, met inside the daemon's task groups.
        if group.split(BrokenPipeError)[1] is not None:
            raise
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except (_UsageError, ArbwatchError) as error:
        # An error may quote what was typed (a URL with its password): redacted, as every
        # error is. Imported here: httpx comes with it, and `calc` is to start quickly.
        from arbwatch.feeds.base import redact  # noqa: PLC0415

        print(f"arbwatch: error: {redact(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _calc(args: argparse.Namespace) -> list[str]:
    """Parse the calculator's arguments into a question and answer it."""
    forced = OddsFormat(args.odds_format) if args.odds_format else None
    if args.calc_kind == "arb":
        if not 2 <= len(args.odds) <= 3:
            raise _UsageError(
                f"calc arb takes 2 or 3 prices, one per outcome; got {len(args.odds)}"
            )
        prices, shown = parse_prices(args.odds, forced)
        return answer_arb(
            ArbQuestion(
                prices=prices,
                bankroll=args.bankroll,
                increment=args.increment,
                commissions=_commissions(args.commission),
                show=shown,
            )
        )
    if not 2 <= len(args.fair) <= 3:
        raise _UsageError(f"--fair takes 2 or 3 prices, one per outcome; got {len(args.fair)}")
    # The price offered and the sharp market are read together: one format for all.
    (price, *fair_market), shown = parse_prices([args.price, *args.fair], forced)
    return answer_ev(
        EvQuestion(
            fair_market=tuple(fair_market),
            devig=DevigMethod(args.devig),
            price=price,
            side=args.side,
            bankroll=args.bankroll,
            kelly_fraction=args.kelly_fraction,
            increment=args.increment,
            show=shown,
        )
    )


def _bench(args: argparse.Namespace) -> None:
    """Run ``arbwatch bench`` on a board that fits in memory."""
    from arbwatch.bench.engine import run_engine_bench  # noqa: PLC0415 - heavy, rare

    events = 2000 if args.events is None else args.events
    books = 30 if args.books is None else args.books
    if events * books > cliargs.MAX_BENCH_BOARD:
        raise _UsageError(
            f"--events {events:,} x --books {books} is more than the "
            f"{cliargs.MAX_BENCH_BOARD:,} quotes the bench builds (about 2.4 GB)"
        )
    run_engine_bench(events=events, books=books, seed=args.seed)


def _replay(args: argparse.Namespace) -> int:
    """Run ``arbwatch replay``: 78 on a config that cannot be used."""
    from arbwatch.feeds.replay import first_sight_rules, replay  # noqa: PLC0415 - feeds: heavy

    if args.config is not None:
        config = commands.usable_config(args.config)
        if config is None:
            return commands.EXIT_CONFIG
        replay(
            args.files,
            sys.stdout,
            rules=config.rules,
            commissions=config.commissions,
            odds_format=config.odds_format,
            name_rules=True,
            closing_line=True,
        )
        return 0
    replay(
        args.files,
        sys.stdout,
        rules=first_sight_rules(
            min_profit=args.min_profit,
            min_ev=args.min_ev,
            max_quote_age=args.max_quote_age,
            sharp=args.sharp or ["Pinnacle"],
            devig=DevigMethod(args.devig),
        ),
        odds_format=OddsFormat(args.odds_format),
    )
    return 0


def _backtest(args: argparse.Namespace) -> int:
    """Run ``arbwatch backtest``: 78 on a config that cannot be used."""
    from arbwatch.backtest import backtest  # noqa: PLC0415 - feeds and apprise: heavy

    path = args.config if args.config is not None else commands.default_config_path()
    config = commands.usable_config(path)
    if config is None:
        return commands.EXIT_CONFIG
    backtest(config, args.recordings, sys.stdout)
    return 0


#: Subcommands that read recordings, returning the exit status (78 for a bad config).
_RECORDING_COMMANDS = {"replay": _replay, "backtest": _backtest}


def _commissions(items: Sequence[str]) -> dict[int, float]:
    """Read ``LEG=RATE`` pairs (legs from 1) into 0-based leg -> rate."""
    rates = {}
    for item in items:
        leg, equals, rate = item.partition("=")
        if not equals or not leg.strip().isdigit():
            raise _UsageError(f"--commission takes LEG=RATE, e.g. 2=2%; got {item!r}")
        try:
            rates[int(leg) - 1] = cliargs.rate(rate)
        except argparse.ArgumentTypeError as error:
            raise _UsageError(f"--commission {item}: {error}") from None
    return rates
