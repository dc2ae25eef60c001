"""What every feed shares: its batches, its errors, its backoff, its secret-keeping.

Pure: no I/O library is imported here, so the providers' parsers and sessions can use
`FeedBatch`, `FeedError` and `redact` and stay sans-I/O. How a failure is classified
(httpx and httpx-ws exceptions) is `arbwatch.feeds.failures`.

A feed hands the engine `FeedBatch`es; decides when to reconnect; and keeps API keys out of
every log line and error.

    Backoff                           1 s, 2 s, 4 s ... capped at 30 s, each less up to 20%
                                      (jitter, so that many clients do not return in step);
                                      reset only after a connection delivered a healthy
                                      first message, so a server that accepts and then
                                      fails at once is not hammered
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Self
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from arbwatch.core.markets import Event, PriceUpdate
from arbwatch.errors import ArbwatchError

#: The largest WebSocket message a feed accepts. A RapidOddsAPI push is a full snapshot of
#: a sport (tens of books, hundreds of markets: a few MB); more than this is an attack or a
#: broken server, and httpx-ws's own default (64 KiB) would refuse ordinary pushes.
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
#: Seconds before a refused key is tried again: the first wait, which doubles up to three
#: times itself (5, 10, 15, 15 ... minutes). A key is renewed by a person, so sooner only
#: spends the provider's patience; much later leaves a fixed key unused for long.
DEFAULT_KEY_RETRY: Final = 300.0


@dataclass(frozen=True, slots=True)
class Allowance:
    """What is left of a feed's plan, as far as its provider said (None: not said).

    Attributes:
        used: credits charged since the feed started (RapidOddsAPI).
        remaining: credits or data points left.
        limit: the plan's credits or data points.
        exhausted: the provider said they ran out and has not said they are back.
    """

    used: int | None = None
    remaining: int | None = None
    limit: int | None = None
    exhausted: bool = False


@dataclass(frozen=True, slots=True)
class SettingsProblem:
    """What is wrong with one setting of a feed: its key ("" for the feed as a whole) and why."""

    key: str
    reason: str


class SettingsError(ArbwatchError, ValueError):
    """A feed's settings refused, each problem a value (key, reason) the loader places.

    The text names the feed (``feed 'rapid': api_key: ...``) for whoever builds settings
    in code; the config loader reads ``problems`` and reports each at its key's line.
    """

    def __init__(self, feed: str, problems: Iterable[SettingsProblem]) -> None:
        """Refuse ``feed``'s settings for ``problems`` (at least one)."""
        self.feed = feed
        self.problems = tuple(problems)
        super().__init__(
            "; ".join(
                f"feed {feed!r}: " + (f"{p.key}: {p.reason}" if p.key else p.reason)
                for p in self.problems
            )
        )

    @classmethod
    def one(cls, feed: str, key: str, reason: str) -> Self:
        """Refused for one reason, about ``key``."""
        return cls(feed, (SettingsProblem(key, reason),))


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
    url = urlsplit(base_url)
    scheme = "wss" if url.scheme == "https" else "ws"
    query = urlencode(params) if params else ""
    return urlunsplit((scheme, url.netloc, url.path.rstrip("/") + path, query, ""))


def truncate(text: str | bytes, limit: int = 200) -> str:
    """A frame shortened for a log line, with its full length said."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"
