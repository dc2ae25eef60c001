"""Failures as a reconnect policy: classify(exception) -> retry, key refused, or fatal.

Plain functions over httpx's and httpx-ws's exceptions, tested without a socket:

    classify(exception) -> Failure    retry; key refused (retried on a long backoff, since a
                                      key can be renewed); or fatal for this feed alone
                                      (no plan, a filter the API rejects)
    a 429's Retry-After wins over the backoff when it is longer

Apart from `arbwatch.feeds.base` because it imports the I/O libraries, which the pure
parsers and sessions must not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeVar

import httpx
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError, WebSocketUpgradeError

from arbwatch.feeds.base import FeedError, truncate

_T = TypeVar("_T", bound=BaseException)

#: A feed's own failure text names what failed and may quote the provider (bounded there);
#: this keeps even a careless one to a readable log line.
_REASON_CHARS: Final = 1000
#: WebSocket close codes after which reconnecting cannot help (a policy refusal).
FATAL_CLOSE_CODES: Final = frozenset({1008})
#: HTTP statuses after which reconnecting cannot help: no entitlement.
FATAL_STATUSES: Final = frozenset({403})
#: The close code (RapidOddsAPI's) and HTTP status that say the API key was refused.
KEY_REFUSED_CLOSE_CODE: Final = 4001
KEY_REFUSED_STATUS: Final = 401


class Verdict(Enum):
    """What to do after a failure."""

    RETRY = "retry"
    #: The API key was refused: retry, on the long backoff of a key that may be renewed.
    KEY_REFUSED = "key refused"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failure: the verdict, a one-line reason, and any server-given wait."""

    verdict: Verdict
    reason: str
    retry_after: float | None = None


def classify(error: BaseException) -> Failure:  # noqa: PLR0911 - a return per kind reads best
    """Decide whether a feed should reconnect after ``error``.

    A refused handshake or HTTP error with 401, and a close with 4001, refuse the key; a
    403 (no entitlement) or a close with 1008 (policy) are fatal for the feed; a 429 retries
    after its Retry-After; anything else a network can throw (resets, timeouts, 5xx, a close
    with 1011) is worth a retry.
    """
    if isinstance(error, BaseExceptionGroup):
        # httpx-ws fails from inside its own task group; what matters is inside. A fatal
        # or refused leaf decides (a bad key stays refused whatever else broke at the same
        # moment), then one with a wait the server asked for (out of credits, rate limited).
        failures = [classify(leaf) for leaf in _leaves(error)]
        deciding = [f for f in failures if f.verdict is not Verdict.RETRY]
        waiting = [f for f in failures if f.retry_after is not None]
        return (deciding or waiting or failures)[0]
    if isinstance(error, FeedError):
        verdict = Verdict.FATAL if error.fatal else Verdict.RETRY
        if error.key_refused:
            verdict = Verdict.KEY_REFUSED
        return Failure(verdict, truncate(str(error), _REASON_CHARS), error.retry_after)
    if isinstance(error, WebSocketUpgradeError):
        return _from_status(error.response, "handshake refused")
    if isinstance(error, httpx.HTTPStatusError):
        return _from_status(error.response, "request failed")
    if isinstance(error, WebSocketDisconnect):
        reason = f"server closed the connection with code {error.code}"
        if error.reason:
            reason += f" ({truncate(error.reason)})"
        if error.code == KEY_REFUSED_CLOSE_CODE:
            return Failure(Verdict.KEY_REFUSED, reason)
        fatal = error.code in FATAL_CLOSE_CODES
        return Failure(Verdict.FATAL if fatal else Verdict.RETRY, reason)
    # An exception's text can carry what a provider sent (a close reason, a body): bounded,
    # since the reason goes to the log and to status.
    text = truncate(str(error))
    if isinstance(error, WebSocketNetworkError | httpx.TransportError | OSError | TimeoutError):
        return Failure(Verdict.RETRY, f"network: {type(error).__name__}: {text}".rstrip(": "))
    return Failure(Verdict.RETRY, f"{type(error).__name__}: {text}".rstrip(": "))


async def read_error_bodies(response: httpx.Response) -> None:
    """An httpx response hook: read the body of any refusal before httpx-ws raises.

    httpx-ws raises `WebSocketUpgradeError` after closing the response, so without this the
    provider's own reason ("Invalid API key.", "Rate limit exceeded") would be lost.
    Install it with ``httpx.AsyncClient(event_hooks={"response": [read_error_bodies]})``.
    """
    if response.status_code >= 400:
        await response.aread()


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside a group and its nested groups."""
    found: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(_leaves(error))
        else:
            found.append(error)
    return found


def _from_status(response: httpx.Response, what: str) -> Failure:
    """Classify by HTTP status, reading Retry-After and the provider's error text."""
    status = response.status_code
    reason = f"{what}: HTTP {status}"
    detail = _error_text(response)
    if detail:
        reason += f" ({detail})"
    if status == KEY_REFUSED_STATUS:
        return Failure(Verdict.KEY_REFUSED, reason)
    if status in FATAL_STATUSES:
        return Failure(Verdict.FATAL, reason)
    return Failure(Verdict.RETRY, reason, retry_after_seconds(response))


def _error_text(response: httpx.Response) -> str:
    """The provider's own error message: RapidOddsAPI's ``detail``, TheRundown's ``error``."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return ""
    if isinstance(body, dict):
        for field in ("detail", "error", "message"):
            if isinstance(body.get(field), str):
                return truncate(str(body[field]))
    return ""


def retry_after_seconds(response: httpx.Response) -> float | None:
    """A Retry-After header given in seconds, if present and sane (0 to 1 day)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and 0.0 <= seconds <= 86400.0 else None


def leaf_error(error: BaseException, kind: type[_T]) -> _T | None:
    """The first exception of type ``kind`` in ``error``, looking inside exception groups.

    httpx-ws raises from inside its own task group, so what failed may arrive wrapped.
    """
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = leaf_error(inner, kind)
            if found is not None:
                return found
    return None
