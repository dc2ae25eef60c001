"""Reconnect policy and secret-keeping, as plain functions."""

import io
import logging
import random

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError, WebSocketUpgradeError

from arbwatch.feeds.base import (
    Backoff,
    FeedError,
    RedactingFilter,
    SettingsError,
    SettingsProblem,
    install_redaction,
    redact,
    remember_secrets,
    truncate,
    url_secrets,
)
from arbwatch.feeds.failures import Verdict, classify, retry_after_seconds
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.v1 import RundownV1Settings


def response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("GET", "https://example.invalid/ws?key=SECRET")
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_backoff_doubles_from_one_second_to_a_cap_with_jitter() -> None:
    backoff = Backoff(rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert 0.8 * ceiling <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not in step


def test_backoff_resets_only_when_told() -> None:
    backoff = Backoff(jitter=0.0)
    assert [backoff.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_a_longer_retry_after_wins() -> None:
    backoff = Backoff(jitter=0.0)
    assert backoff.next_delay(retry_after=7.0) == 7.0
    assert backoff.next_delay(retry_after=0.5) == 2.0


@pytest.mark.parametrize(("status", "verdict"), [(401, Verdict.KEY_REFUSED), (403, Verdict.FATAL)])
def test_a_refused_key_is_retried_later_and_a_plan_without_access_is_fatal(
    status: int, verdict: Verdict
) -> None:
    failure = classify(WebSocketUpgradeError(response(status, {"detail": "Invalid API key."})))
    assert failure.verdict is verdict
    assert failure.reason == f"handshake refused: HTTP {status} (Invalid API key.)"


def test_429_retries_after_its_retry_after() -> None:
    refused = response(429, {"error": "Rate limit exceeded"}, {"Retry-After": "3"})
    failure = classify(WebSocketUpgradeError(refused))
    assert failure.verdict is Verdict.RETRY
    assert failure.retry_after == 3.0
    assert "Rate limit exceeded" in failure.reason


def test_http_errors_classify_like_handshakes() -> None:
    server_error = response(503, {"detail": "Error fetching market data."})
    error = httpx.HTTPStatusError("boom", request=server_error.request, response=server_error)
    assert classify(error).verdict is Verdict.RETRY
    forbidden = response(403, {"error": "Futures markets require Ultra plan or higher"})
    error = httpx.HTTPStatusError("no", request=forbidden.request, response=forbidden)
    assert classify(error).verdict is Verdict.FATAL


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (4001, Verdict.KEY_REFUSED),
        (1008, Verdict.FATAL),
        (1011, Verdict.RETRY),
        (1000, Verdict.RETRY),
    ],
)
def test_close_codes(code: int, verdict: Verdict) -> None:
    failure = classify(WebSocketDisconnect(code, "bye"))
    assert failure.verdict is verdict
    assert f"code {code} (bye)" in failure.reason


def test_network_trouble_and_feed_errors() -> None:
    assert classify(WebSocketNetworkError()).verdict is Verdict.RETRY
    assert classify(httpx.ConnectError("refused")).verdict is Verdict.RETRY
    assert classify(TimeoutError()).verdict is Verdict.RETRY
    credits = FeedError("insufficient credits", fatal=False, retry_after=900.0)
    assert classify(credits).verdict is Verdict.RETRY
    assert classify(credits).retry_after == 900.0
    assert classify(FeedError("no plan", fatal=True)).verdict is Verdict.FATAL
    refused = FeedError("bad key", fatal=False, key_refused=True)
    assert classify(refused).verdict is Verdict.KEY_REFUSED


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.5", 0.5), ("soon", None), ("-1", None), ("nan", None), ("1e9", None)],
)
def test_retry_after_is_read_only_when_sane(header: str, seconds: float | None) -> None:
    assert retry_after_seconds(response(429, headers={"Retry-After": header})) == seconds


def test_keys_are_redacted_by_value_and_by_query_name() -> None:
    line = "GET wss://api.example.invalid/ws?api_key=oa_live_123&sport=NBA key=oa_live_123"
    assert (
        redact(line, ["oa_live_123"])
        == "GET wss://api.example.invalid/ws?api_key=***&sport=NBA key=***"
    )
    assert redact("https://x.invalid/api/v2/ws/markets?sport_ids=4&key=abc") == (
        "https://x.invalid/api/v2/ws/markets?sport_ids=4&key=***"
    )
    assert redact("nothing secret") == "nothing secret"


def test_the_logging_filter_scrubs_what_httpx_logs(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter(["SECRET"]))
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info('HTTP Request: GET %s "HTTP/1.1 200 OK"', "https://x.invalid/?key=SECRET")
    assert "SECRET" not in caplog.text
    assert "key=***" in caplog.text


def test_truncate_says_how_long_the_frame_was() -> None:
    assert truncate("short") == "short"
    assert truncate(b"x" * 500, limit=10) == "xxxxxxxxxx... (500 characters)"


def test_a_group_prefers_a_refused_key_then_a_server_given_wait() -> None:
    credits = FeedError("out of credits", fatal=False, retry_after=900.0)
    network = WebSocketNetworkError()
    assert classify(ExceptionGroup("x", [network, credits])).retry_after == 900.0
    bad_key = WebSocketDisconnect(4001, "Invalid API key")
    nested = ExceptionGroup("x", [network, ExceptionGroup("y", [credits, bad_key])])
    assert classify(nested).verdict is Verdict.KEY_REFUSED


def test_install_redaction_is_idempotent_and_learns_new_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "test.install_redaction"
    install_redaction(["first-key"], [name])
    install_redaction(["second-key"], [name])
    logger = logging.getLogger(name)
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=name):
        logger.info("keys %s and %s", "first-key", "second-key")
    assert "first-key" not in caplog.text
    assert "second-key" not in caplog.text
    assert "keys *** and ***" in caplog.text


def test_a_urls_userinfo_is_redacted_wherever_the_url_is() -> None:
    line = (
        "connecting to ws://relay:pa%40ss@127.0.0.1:8000/ws, then 'https://me:pw@x.invalid/a' "
        "and mailtos://user@mail.invalid?to=a@b.invalid"
    )
    assert redact(line) == (
        "connecting to ws://***@127.0.0.1:8000/ws, then 'https://***@x.invalid/a' "
        "and mailtos://***@mail.invalid?to=a@b.invalid"
    )
    # A bare address is not a URL's userinfo.
    assert redact("mail me@example.invalid") == "mail me@example.invalid"


def test_url_secrets_are_the_password_as_written_and_decoded() -> None:
    assert url_secrets("https://relay:pa%40ss-word@x.invalid/") == ("pa%40ss-word", "pa@ss-word")
    assert url_secrets("https://relay@x.invalid/") == ()
    assert url_secrets("https://x.invalid/?user=a:b@c") == ()


def test_remembered_secrets_are_redacted_everywhere_but_not_short_ones() -> None:
    remember_secrets(["remembered-secret-41", "abc"])
    assert redact("key remembered-secret-41 and abc") == "key *** and abc"
    # Passed in, a short one is replaced all the same.
    assert redact("abc", ["abc"]) == "***"


def test_a_handler_filter_scrubs_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(["trace-secret-77"]))
    logger = logging.getLogger("test.handler_redaction")
    logger.addHandler(handler)
    try:
        try:
            _fail("failed at https://u:trace-secret-77@x.invalid/")
        except ValueError:
            logger.exception("lost %s", "https://u:pw-in-args@x.invalid/?token=tok-1")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "lost https://***@x.invalid/?token=***" in text
    assert "ValueError: failed at https://***@x.invalid/" in text
    for secret in ("trace-secret-77", "pw-in-args", "tok-1"):
        assert secret not in text


def _fail(message: str) -> None:
    """Raise a ValueError saying ``message``."""
    raise ValueError(message)


def test_a_provider_text_of_100_kb_is_bounded_in_every_failure_reason() -> None:
    huge = "Q" * 100_000
    request = httpx.Request("GET", "https://example.invalid/odds")
    errors: list[BaseException] = [
        FeedError(huge, fatal=False),
        WebSocketDisconnect(1011, huge),
        WebSocketNetworkError(huge),
        ValueError(huge),
        httpx.HTTPStatusError("x", request=request, response=response(500, {"detail": huge})),
        WebSocketUpgradeError(response(403, {"error": huge})),
    ]
    for error in errors:
        reason = classify(error).reason
        assert len(reason) < 1100, type(error)
        assert "characters)" in reason, type(error)


def test_settings_refusals_are_values_naming_their_key() -> None:
    with pytest.raises(SettingsError) as caught:
        RundownSettings(name="trd", api_key="k", sport_ids=(4,), market_ids=())
    assert caught.value.problems == (SettingsProblem("market_ids", "needs 1 to 12 ids"),)
    assert caught.value.feed == "trd"
    with pytest.raises(SettingsError) as caught:
        RundownV1Settings(name="v1", api_key="k")
    assert caught.value.problems == (SettingsProblem("", "a V1 feed needs sport_ids or event_ids"),)
    assert str(caught.value) == "feed 'v1': a V1 feed needs sport_ids or event_ids"
    with pytest.raises(SettingsError) as caught:
        RapidOddsSettings(
            name="rapid",
            api_key="oa_x",
            sports=("NBA",),
            bookmakers=("Pinnacle",),
            market_types=("head_to_head",),
            idle_timeout=0,
        )
    assert caught.value.problems == (
        SettingsProblem("idle_timeout", "expected seconds > 0, got 0"),
    )
