"""The REST pacer and TheRundown's page plan, as pure objects: times passed in."""

import math

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbwatch.feeds.pacing import SAFETY_MARGIN, Pacer, is_rate_limited
from arbwatch.feeds.therundown.pages import PagePlan


def response(status: int, body: object = None) -> httpx.Response:
    request = httpx.Request("GET", "https://example.invalid/api/v2/sports/4/events/2026-12-06")
    return httpx.Response(status, json=body, request=request)


# --- Pacer -----------------------------------------------------------------------------------


def test_the_first_request_goes_at_once_and_the_next_an_interval_later() -> None:
    pacer = Pacer(10.0)
    assert pacer.ready(0.0)
    pacer.started(0.0)
    assert pacer.interval == pytest.approx((1.0 + SAFETY_MARGIN) / 10.0)
    assert not pacer.ready(0.1)
    assert pacer.wait(0.1) == pytest.approx(pacer.interval - 0.1)
    assert pacer.ready(pacer.interval)


def test_an_idle_pacer_does_not_save_up_a_burst() -> None:
    pacer = Pacer(2.0)
    pacer.started(0.0)
    pacer.started(100.0)  # long after: goes at once, and the next waits a full interval
    assert pacer.ready_at == pytest.approx(100.0 + pacer.interval)


def test_a_pause_holds_every_request_and_a_shorter_one_does_not_shorten_it() -> None:
    pacer = Pacer(10.0)
    pacer.started(0.0)
    pacer.pause(1.0)  # a 429's Retry-After: 1
    pacer.pause(0.5)
    assert not pacer.ready(0.99)
    assert pacer.ready(1.0)
    pacer.started(1.0)
    assert pacer.ready_at == pytest.approx(1.0 + pacer.interval)


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf])
def test_a_rate_that_is_not_a_positive_number_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="max_requests_per_second"):
        Pacer(rate)


@given(
    rate=st.sampled_from([1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 50.0]),
    asks=st.lists(st.floats(min_value=0.0, max_value=0.3), min_size=1, max_size=200),
)
def test_no_window_of_a_second_and_the_margin_holds_more_than_the_rate(
    rate: float, asks: list[float]
) -> None:
    # Callers ask at arbitrary moments and start when the pacer lets them.
    pacer = Pacer(rate)
    now, starts = 0.0, []
    for gap in asks:
        now = max(now + gap, pacer.ready_at)
        assert pacer.ready(now)
        pacer.started(now)
        starts.append(now)
    limit = int(rate)
    for first, later in zip(starts, starts[limit:], strict=False):
        # The provider counts requests in a rolling second: rate + 1 never fit in one,
        # with the margin to spare for arrivals bunched up by the network.
        assert later - first >= 1.0 + SAFETY_MARGIN - 1e-9


# --- is_rate_limited -------------------------------------------------------------------------


def test_only_a_429_for_the_rate_is_retried_in_place() -> None:
    assert is_rate_limited(response(429, {"error": "Rate limit exceeded"}))
    assert is_rate_limited(
        response(429, {"detail": "Rate limit exceeded. Maximum 30 requests per second."})
    )
    assert is_rate_limited(response(429))  # no body: a 429 still means "not this second"
    # Quotas: waiting a second cannot help.
    assert not is_rate_limited(response(429, {"error": "Daily data point limit reached"}))
    assert not is_rate_limited(
        response(429, {"detail": "Insufficient credits. This request costs 4 credits."})
    )
    assert not is_rate_limited(response(200, {"error": "Rate limit exceeded"}))
    assert not is_rate_limited(response(503))


# --- PagePlan --------------------------------------------------------------------------------

PAGES = ["/4/today", "/2/today", "/4/tomorrow", "/2/tomorrow"]


def test_pages_come_in_order_and_the_start_up_ends_when_all_came() -> None:
    plan = PagePlan(refresh_interval=600.0)
    plan.set_pages(PAGES)
    fetched = []
    while (page := plan.take(0.0)) is not None:
        assert not plan.bootstrapped
        plan.fetched(page, 0.0)
        fetched.append(page)
    assert fetched == PAGES
    assert plan.bootstrapped
    assert (plan.done, plan.total) == (4, 4)
    assert plan.next_due() == 600.0


def test_a_start_up_interrupted_resumes_with_the_pages_it_lacks() -> None:
    plan = PagePlan(refresh_interval=600.0)
    plan.set_pages(PAGES)
    plan.fetched("/4/today", 0.0)
    plan.fetched("/2/today", 0.1)
    # A failure or a reconnect later: the plan is the same object, the fetched pages stay.
    assert plan.take(5.0) == "/4/tomorrow"
    plan.fetched("/4/tomorrow", 5.0)
    assert plan.take(5.1) == "/2/tomorrow"
    assert plan.done == 3
    assert not plan.bootstrapped


def test_a_page_is_due_again_only_after_its_refresh_interval() -> None:
    plan = PagePlan(refresh_interval=600.0)
    plan.set_pages(PAGES)
    for at, page in enumerate(PAGES):
        plan.fetched(page, float(at))
    assert plan.take(599.0) is None  # a reconnect within the interval: nothing to fetch
    assert plan.take(600.0) == "/4/today"
    assert plan.next_due() == 600.0


def test_a_dropped_page_comes_back_at_its_retry_time() -> None:
    plan = PagePlan(refresh_interval=600.0)
    plan.set_pages(PAGES[:1])
    plan.retry_at("/4/today", 2.0)
    assert plan.take(1.9) is None
    assert plan.take(2.0) == "/4/today"
    assert not plan.bootstrapped


def test_days_roll_over_and_a_refused_cursor_expires_every_page() -> None:
    plan = PagePlan(refresh_interval=600.0)
    plan.set_pages(PAGES)
    for page in PAGES:
        plan.fetched(page, 0.0)
    # Midnight: today's pages leave, the day after tomorrow's come, due at once; a page
    # that came in after the start-up is a refresh, not another start-up.
    plan.set_pages(["/4/tomorrow", "/2/tomorrow", "/4/after", "/2/after"])
    assert (plan.done, plan.total) == (2, 4)
    assert plan.bootstrapped
    assert plan.take(1.0) == "/4/after"
    plan.expire_all()
    assert plan.take(1.0) == "/4/tomorrow"


def test_an_empty_plan_has_nothing_due_and_nothing_to_wait_for() -> None:
    plan = PagePlan(refresh_interval=600.0)
    plan.set_pages([])
    assert plan.take(0.0) is None
    assert plan.next_due() == math.inf
    assert plan.bootstrapped
