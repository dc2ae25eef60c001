"""What every feed driver shares: its batches, its reconnect policy, its secret-keeping.

A feed hands the engine `FeedBatch`es; decides when to reconnect; and keeps API keys out of
every log line and error.

Reconnecting is policy as plain functions, tested without a socket:

    classify(exception) -> Failure    retry; key refused (retried on a long backoff, since a
                                      key can be renewed); or fatal for this feed alone
                                      (no plan, a filter the API rejects)
    Backoff                           1 s, 2 s, 4 s ... capped at 30 s, each less up to 20%
                                      (jitter, so that many clients do not return in step);
                                      reset only after a connection delivered a healthy
                                      first message, so a server that accepts and then
                                      fails at once is not hammered
    a 429's Retry-After wins over the backoff when it is longer
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final
from urllib.parse import unquote

import httpx
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError, WebSocketUpgradeError

from arbwatch.core.markets import Event, PriceUpdate
from arbwatch.errors import ArbwatchError

#: The largest WebSocket message a feed accepts. A RapidOddsAPI push is a full snapshot of
#: a sport (tens of books, hundreds of markets: a few MB); more than this is an attack or a
#: broken server, and httpx-ws's own default (64 KiB) would refuse ordinary pushes.
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
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


class FeedError(ArbwatchError):
    """A feed could not go on; ``fatal`` says whether retrying can help.

    ``key_refused``: the provider refused the API key, which only a renewed key fixes; the
    feed tries again on a long backoff rather than for ever soon or never.
    """

    def __init__(
        self,
        message: str,
        *,
        fatal: bool,
        retry_after: float | None = None,
        key_refused: bool = False,
    ) -> None:
        """Record whether to retry, and the server's Retry-After if it gave one."""
        super().__init__(message)
        self.fatal = fatal
        self.retry_after = retry_after
        self.key_refused = key_refused


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """What a feed hands the engine: event details and price updates, from one frame."""

    feed: str
    received_at: float
    events: tuple[Event, ...]
    updates: tuple[PriceUpdate, ...]


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


class Backoff:
    """Delays between reconnect attempts: exponential, capped, with jitter."""

    def __init__(
        self,
        initial: float = 1.0,
        cap: float = 30.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        """Start at ``initial`` seconds and double each time up to ``cap``.

        Each delay loses up to ``jitter`` of itself at random; ``rng`` makes that
        reproducible in tests.
        """
        self._initial, self._cap, self._jitter = initial, cap, jitter
        # Not for cryptography: spreading reconnects over time.
        self._rng = rng or random.Random()  # noqa: S311
        self._attempt = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next attempt; a longer server Retry-After wins."""
        delay = min(self._cap, self._initial * 2.0**self._attempt)
        self._attempt += 1
        delay *= 1.0 - self._jitter * self._rng.random()
        return max(delay, retry_after or 0.0)

    def reset(self) -> None:
        """Start over at the initial delay: call after a connection proved healthy."""
        self._attempt = 0


# --- secrets ---------------------------------------------------------------------------
#
# The one redaction of arbwatch: every text that can reach a log line, an error, status,
# metrics, show-config or a recording goes through `redact`. It replaces, in this order,
# every known secret (API keys, a URL's password, the tokens of apprise URLs), the userinfo
# of any URL (``https://user:pw@relay`` -> ``https://***@relay``) and key-like query
# parameters (``?key=...``), so a secret is scrubbed even where arbwatch was never told it.

#: What stands in for a secret in logs, errors, status and recordings.
REDACTED: Final = "***"
_SECRET_QUERY: Final = re.compile(
    r"(?i)(?P<name>[?&](?:api_?key|apikey|key|token|access_token|secret|password)=)"
    r"[^&#\s'\"]+"
)
#: ``://userinfo@``: a user name and password before a host, in any URL of the text. Found
#: from the ``://`` rather than from the scheme: a regex that tried a scheme at each letter
#: would read a 3 MB frame many times over.
_USERINFO: Final = re.compile(r"://[^/?#@\s'\"<>]+@")

#: The shortest secret remembered process-wide: shorter text (a chat id's digits, ``x=1``
#: in an apprise URL's query) would match ordinary words and figures in every line. Keys
#: and tokens are longer; a caller redacting its own short secrets passes them to `redact`.
MIN_REMEMBERED_LENGTH: Final = 6
#: Every secret the process knows of (see `remember_secrets`), longest first, so that a
#: secret containing a shorter one is replaced whole.
_known: tuple[str, ...] = ()


def remember_secrets(secrets: Iterable[str]) -> None:
    """Add ``secrets`` to those `redact` replaces everywhere in this process, for good.

    The daemon tells it each config's keys and URL secrets as it loads the config, so a
    line logged by any library, or an error text built anywhere, is scrubbed of them.
    """
    global _known  # noqa: PLW0603 - one registry per process, read on every redaction
    merged = set(_known) | {s for s in secrets if len(s) >= MIN_REMEMBERED_LENGTH}
    _known = tuple(sorted(merged, key=len, reverse=True))


def url_secrets(url: str) -> tuple[str, ...]:
    """The password in ``url``'s userinfo, as written and decoded.

    The user name is not a secret on its own (and may be a common word); in a URL the
    whole userinfo is scrubbed by pattern anyway.
    """
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s:@]*:(?P<password>[^/?#\s@]*)@", url)
    if match is None:
        return ()
    password = match.group("password")
    return tuple(dict.fromkeys(s for s in (password, unquote(password)) if s))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by `REDACTED` (see the section's comment).

    ``secrets`` are replaced as well as those remembered process-wide. httpx logs full
    URLs, query included, and both providers take the key in the query, so URLs are
    scrubbed by pattern as well as by value.
    """
    given = sorted((s for s in secrets if s), key=len, reverse=True)
    for secret in (*given, *_known):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(f"://{REDACTED}@", text)
    return _SECRET_QUERY.sub(lambda m: m.group("name") + REDACTED, text)


#: Loggers that can print a URL or a provider's message: httpx logs every request with its
#: query at INFO, httpcore more at DEBUG, and the feeds log their failures. (The daemon's
#: own log handler redacts every record too: see `arbwatch.logs.configure_logging`.)
REDACTED_LOGGERS: Final = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "arbwatch.feeds",
)


def install_redaction(secrets: Iterable[str], loggers: Iterable[str] = REDACTED_LOGGERS) -> None:
    """Remember ``secrets`` and scrub them from every record the named loggers create.

    Idempotent. A logger's filters see only the records created on that very logger, not
    those propagated from its children, and the handlers belong to whoever configured
    logging (the daemon, pytest's caplog). So the filter goes on each logger that can
    print a URL or a provider message, where it rewrites the record before any handler
    anywhere formats it; a module that logs on its own logger passes it too. An existing
    `RedactingFilter` there learns the secrets instead of a second filter being added.
    """
    secrets = [s for s in secrets if s]
    remember_secrets(secrets)
    for name in loggers:
        logger = logging.getLogger(name)
        existing = next((f for f in logger.filters if isinstance(f, RedactingFilter)), None)
        if existing is None:
            logger.addFilter(RedactingFilter(secrets))
        else:
            existing.secrets.update(secrets)


class RedactingFilter(logging.Filter):
    """A logging filter (for a logger or a handler) that scrubs every record it passes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Scrub these values (API keys) and those remembered, plus URL-borne secrets."""
        super().__init__()
        self.secrets = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message and traceback with secrets replaced; never drops."""
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatted here, redacted, and cached where every formatter looks first.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def websocket_url(base_url: str, path: str, params: Mapping[str, str] | None = None) -> str:
    """A WebSocket URL under a feed's REST base: http -> ws, https -> wss, path appended.

    ``http://127.0.0.1:8000/relay`` with ``/ws`` gives ``ws://127.0.0.1:8000/relay/ws``, so
    a proxy or relay under a path prefix works as the provider itself does.
    """
    url = httpx.URL(base_url)
    scheme = "wss" if url.scheme == "https" else "ws"
    joined = url.copy_with(scheme=scheme, path=url.path.rstrip("/") + path, query=None)
    return str(joined.copy_merge_params(dict(params)) if params else joined)


def truncate(text: str | bytes, limit: int = 200) -> str:
    """A frame shortened for a log line, with its full length said."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"
