"""The daemon's subcommands: run, demo, check-config, show-config, test-notify, status, history.

`arbwatch.cli` parses the arguments; each function here does one command and returns its
exit status. The heavier parts are imported inside the command that needs them, so that
``arbwatch calc`` stays quick to start: each of the config loader, the daemon, the runner,
status, the demo, the notifier and the online check costs 0.1 to 0.8 s beyond `arbwatch.cli`
(measured on 2 busy cores). Logging and redaction cost 5 to 35 ms and are imported here;
the store, which brings the closing-line value maths, costs 40 ms and only `history` needs it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio

from arbwatch.core.words import plural
from arbwatch.errors import ConfigError
from arbwatch.feeds.base import redact
from arbwatch.logs import configure_logging
from arbwatch.spelling import did_you_mean

if TYPE_CHECKING:
    from arbwatch.config.model import Config

logger = logging.getLogger(__name__)

#: Exit status of every command when the config cannot be used: EX_CONFIG from sysexits.h,
#: which the systemd unit lists in RestartPreventExitStatus so a broken config is not retried.
EXIT_CONFIG: Final = 78
#: Exit status for a mistake in the arguments (a channel the config does not have), as
#: argparse uses.
EXIT_USAGE: Final = 2
#: Where ``-c`` points unless told otherwise.
DEFAULT_CONFIG: Final = "config.yaml"


def default_config_path() -> Path:
    """``$ARBWATCH_CONFIG``, else ``config.yaml`` in the current directory."""
    return Path(os.environ.get("ARBWATCH_CONFIG", DEFAULT_CONFIG))


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The ``-c/--config FILE`` option every daemon command takes."""
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"the YAML config ($ARBWATCH_CONFIG, else ./{DEFAULT_CONFIG})",
    )


def _config_path(args: argparse.Namespace) -> Path:
    """The config file the user asked for: ``-c FILE``, or ``check-config FILE``."""
    path: Path | None = args.config or getattr(args, "file", None)
    return path if path is not None else default_config_path()


def _given_twice(args: argparse.Namespace) -> bool:
    """Whether both ``-c FILE`` and the FILE argument were given (and say so)."""
    if args.file is None or args.config is None:
        return False
    print(
        f"arbwatch: error: {args.command}: two configs given, {args.file} and -c "
        f"{args.config}; give one",
        file=sys.stderr,
    )
    return True


def _config_refused(error: ConfigError) -> int:
    """Say why the config cannot be used, every problem on its line; return `EXIT_CONFIG`."""
    # One problem fits the heading's line; more go one per line below it.
    gap = "\n" if len(error.problems) > 1 else " "
    print(f"arbwatch: the config cannot be used:{gap}{error}", file=sys.stderr)
    return EXIT_CONFIG


def usable_config(path: Path) -> Config | None:
    """The config at ``path``, or None once why it cannot be used is printed.

    For the commands outside this module that read a config (replay -c, backtest): the
    caller then exits with `EXIT_CONFIG`.
    """
    from arbwatch.config import load_config  # noqa: PLC0415 - see the module docstring

    try:
        return load_config(path)
    except ConfigError as error:
        _config_refused(error)
        return None


def run(args: argparse.Namespace) -> int:
    """``arbwatch run``: the daemon, until SIGTERM or SIGINT, or every feed's key refused."""
    from arbwatch.config import load_config  # noqa: PLC0415 - see the module docstring
    from arbwatch.daemon import Daemon  # noqa: PLC0415
    from arbwatch.runner import run_daemon  # noqa: PLC0415
    from arbwatch.status import StatusListenError  # noqa: PLC0415

    try:
        config = load_config(_config_path(args))
    except ConfigError as error:
        return _config_refused(error)
    configure_logging(args.log_level or config.log_level)
    # Names no provider documents are used as written: said once at start, not silently.
    for warning in config.names.warnings:
        logger.warning("%s", warning)
    daemon = Daemon(config)
    try:
        anyio.run(run_daemon, daemon)
    except (StatusListenError, BaseExceptionGroup) as error:
        return _listen_refused(error)
    # Non-zero when every feed's key is refused (EXIT_KEYS_REFUSED), for systemd's Restart=.
    return daemon.exit_status


def _listen_refused(error: BaseException) -> int:
    """Say why the status listener could not start, and exit as for a bad config.

    The error may come wrapped in the task groups' exception groups; anything else in
    ``error`` is not this and is raised again.
    """
    from arbwatch.status import StatusListenError  # noqa: PLC0415

    if isinstance(error, BaseExceptionGroup):
        matched, rest = error.split(StatusListenError)
        if matched is None or rest is not None:
            raise error
        error = matched.exceptions[0]
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
    print(f"arbwatch: {error}", file=sys.stderr)
    return EXIT_CONFIG


def demo(args: argparse.Namespace) -> int:
    """``arbwatch demo``: the daemon against the simulators, alerting to the console."""
    from arbwatch.demo import notify_channel, run_demo, status_listen  # noqa: PLC0415
    from arbwatch.status import StatusListenError  # noqa: PLC0415
    from arbwatch.status_view import status_url  # noqa: PLC0415

    # A bad URL or address is refused before anything starts.
    notify_channel(args.notify)
    listen = status_listen(args.status)
    # Warnings only by default: the console is for the alerts.
    configure_logging(args.log_level or "warning")
    seconds: float | None = args.seconds  # above 0 when given (see `arbwatch.cliargs`)
    print(
        "arbwatch demo: simulated RapidOddsAPI and TheRundown on 127.0.0.1, no API key needed."
        f"\nAlerts print below as they would reach a phone. {_how_long(seconds)}",
        flush=True,
    )
    if listen is not None:
        url = status_url(listen)
        print(
            f"Health: {url}/metrics (Prometheus) and {url}/status, or in another terminal: "
            f"arbwatch status --url {url}",
            flush=True,
        )

    async def main() -> None:
        daemon = await run_demo(seconds=seconds, notify=args.notify, seed=args.seed, status=listen)
        stats = daemon.stats
        print(
            f"\narbwatch demo: {stats.updates:,} price updates in {stats.evaluations:,} "
            f"evaluations, {plural(stats.alerts, 'alert')}.",
            flush=True,
        )

    try:
        anyio.run(main)
    except (StatusListenError, BaseExceptionGroup) as error:
        return _listen_refused(error)
    return 0


def _how_long(seconds: float | None) -> str:
    """The demo's promise about when it ends."""
    if seconds is None:
        return "Ctrl-C stops it."
    return f"It stops after {seconds:g} s (Ctrl-C stops it sooner)."


def check_config(args: argparse.Namespace) -> int:
    """``arbwatch check-config [FILE] [--online]``: 0 and a summary, or 78 and every problem.

    ``--online`` asks the providers too, once the config passes offline; a provider that
    cannot be reached fails the check, since nothing was settled.
    """
    from arbwatch.config.online import check_online  # noqa: PLC0415
    from arbwatch.config.show import check_config as check  # noqa: PLC0415

    if _given_twice(args):
        return EXIT_USAGE
    path = _config_path(args)
    ok, lines = check(path)
    if ok and args.online:
        ok, more = anyio.run(check_online, path)
        lines.extend(more)
    elif args.online:
        lines.append("check-config --online: the providers were not asked; fix the above first")
    print("\n".join(lines), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else EXIT_CONFIG


def show_config(args: argparse.Namespace) -> int:
    """``arbwatch show-config [FILE]``: the effective config, secrets redacted."""
    from arbwatch.config import load_config  # noqa: PLC0415
    from arbwatch.config.show import show_config as show  # noqa: PLC0415

    if _given_twice(args):
        return EXIT_USAGE
    try:
        config = load_config(_config_path(args))
    except ConfigError as error:
        return _config_refused(error)
    print(show(config), end="")
    return 0


def test_notify(args: argparse.Namespace) -> int:
    """``arbwatch test-notify CHANNEL``: send a sample alert; 0 if it went through."""
    from arbwatch.config import load_config  # noqa: PLC0415
    from arbwatch.notify.deliver import send_sample  # noqa: PLC0415
    from arbwatch.notify.message import render_sample  # noqa: PLC0415

    try:
        config = load_config(_config_path(args))
    except ConfigError as error:
        return _config_refused(error)
    channel = config.channels.get(args.channel)
    if channel is None:
        known = ", ".join(sorted(config.channels)) or "none"
        print(f"arbwatch: no channel {args.channel!r} (channels: {known})", file=sys.stderr)
        return EXIT_USAGE
    message = render_sample(
        now=time.time(),
        odds_format=channel.odds_format or config.odds_format,
        currency=config.currency,
        timezone=config.timezone,
    )
    ok = anyio.run(send_sample, channel, message)
    print(f"test-notify {args.channel}: {'sent' if ok else 'FAILED'}")
    return 0 if ok else 1


def status(args: argparse.Namespace) -> int:
    """``arbwatch status``: the running daemon's health, from its status listener."""
    from arbwatch.config import load_config  # noqa: PLC0415
    from arbwatch.status import health_from_document  # noqa: PLC0415
    from arbwatch.status_view import (  # noqa: PLC0415
        StatusError,
        fetch_status,
        other_daemon_warning,
        status_lines,
        status_url,
    )

    url: str | None = args.url
    timezone = None
    expected_state_dir: Path | None = None
    if url is None:
        path = _config_path(args)
        try:
            # The listener's address is all it needs: not the feeds' keys.
            config = load_config(path, secrets=False)
        except ConfigError as error:
            return _config_refused(error)
        if config.status_listen is None:
            print(
                f"arbwatch status: {path} sets no status.listen: add "
                "status: {listen: 127.0.0.1:9464} and restart the daemon, or give --url",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        url, timezone = status_url(config.status_listen), config.timezone
        expected_state_dir = config.state_dir
    try:
        document = fetch_status(url)
        health = health_from_document(document)
    except StatusError as error:
        print(f"arbwatch status: {error}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError):
        print(f"arbwatch status: {redact(url)}/status is not arbwatch's status", file=sys.stderr)
        return 1
    if expected_state_dir is not None:
        warning = other_daemon_warning(health, expected_state_dir, url)
        if warning:
            print(f"arbwatch status: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print("\n".join(status_lines(health, timezone)))
    return 0


def history(args: argparse.Namespace) -> int:
    """``arbwatch history``: the opportunities seen, newest first; ``--clv``: their CLV summary."""
    from arbwatch.config import load_config  # noqa: PLC0415
    from arbwatch.store import clv_lines, history_lines  # noqa: PLC0415

    try:
        # The state directory is all it needs: not the feeds' keys.
        config = load_config(_config_path(args), secrets=False)
    except ConfigError as error:
        return _config_refused(error)
    rules = [rule.name for rule in config.rules]
    if args.rule is not None and args.rule not in rules:
        # A rule since taken out of the config may still have history: refused only if not.
        kept = history_lines(config.state_dir, 1, args.rule, time.time(), config.timezone)
        if kept[0].startswith("No "):
            hint = did_you_mean(args.rule, rules)
            print(
                f"arbwatch history: no rule named {args.rule!r}"
                + (f", {hint}" if hint else "")
                + f" (rules: {', '.join(rules)})",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if args.clv:
        lines = clv_lines(config.state_dir, args.rule)
    else:
        lines = history_lines(config.state_dir, args.limit, args.rule, time.time(), config.timezone)
    print("\n".join(lines))
    return 0
