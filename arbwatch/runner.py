"""Run a `Daemon` from the command line: signals become stop and reload requests.

Signals are handled here, at the edge, and nowhere else (the daemon only sees `Daemon.stop`
and `Daemon.reload`), so the daemon runs in-process in tests exactly as it does in service:

=========  ====================================================================
SIGTERM    stop: feeds close, alerts in flight get ``flush_timeout`` to go out
SIGINT     the same (Ctrl-C); a second one while stopping cancels at once
SIGHUP     reload the config file; a broken one is logged and the old one stays
=========  ====================================================================
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio

from arbwatch.daemon import Daemon

logger = logging.getLogger(__name__)

#: Extra tasks to run beside the daemon (the demo's simulators), cancelled when it stops.
Companion = Callable[[], Coroutine[Any, Any, None]]


async def run_daemon(
    daemon: Daemon,
    *,
    seconds: float | None = None,
    companions: Sequence[Companion] = (),
) -> None:
    """Run ``daemon`` until a stop signal, or for ``seconds`` when given."""
    async with anyio.create_task_group() as group:
        for companion in companions:
            group.start_soon(companion)
        group.start_soon(_handle_signals, daemon, group.cancel_scope)
        if seconds is not None:
            group.start_soon(_stop_after, daemon, seconds)
        await daemon.run()
        group.cancel_scope.cancel()


async def _stop_after(daemon: Daemon, seconds: float) -> None:
    """Stop the daemon once ``seconds`` have passed."""
    await anyio.sleep(seconds)
    logger.info("ran for %g s as asked: stopping", seconds)
    daemon.stop()


async def _handle_signals(daemon: Daemon, scope: anyio.CancelScope) -> None:
    """Turn signals into requests; a second stop signal cancels without waiting."""
    stopping = False
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for number in signals:
            if number == signal.SIGHUP:
                logger.info("SIGHUP: reloading the config")
                daemon.reload()
            elif not stopping:
                stopping = True
                logger.info("%s: stopping", signal.Signals(number).name)
                daemon.stop()
            else:
                logger.warning("%s again: stopping now", signal.Signals(number).name)
                scope.cancel()
