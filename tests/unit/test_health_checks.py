"""What `look` finds wrong in a health snapshot, and the texts a phone gets for it."""

from __future__ import annotations

import dataclasses
import json

from arbwatch.config.model import HealthConfig
from arbwatch.core.conditions import HealthLifecycle
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.health import ChannelHealth, Health
from arbwatch.health_checks import book_delivered, look
from arbwatch.status import health_from_document, status_document
from arbwatch.status_view import status_lines
from tests.unit.test_status import NOW, feed, health

SETTINGS = HealthConfig()
EV = RuleConfig(name="pin-ev", kind="positive_ev", notify=("phone",), sharp=("Pinacle",))
ARBS = RuleConfig(
    name="arbs", kind="arbitrage", notify=("phone",), books=frozenset({"FanDuel", "Bovada"})
)


def snapshot(*feeds: object, **changes: object) -> Health:
    """The test_status snapshot, with only the feeds given and no channel unless given."""
    changes = {"feeds": tuple(feeds), "channels": ()} | changes
    return dataclasses.replace(health(), **changes)  # type: ignore[arg-type]


def keys(found: Health, *, rules: tuple[RuleConfig, ...] = (), books: set[str] | None = None,
         pending: int = 0) -> dict[str, str]:  # fmt: skip
    looked = look(found, SETTINGS, rules, books or set(), pending_batches=pending)
    return {condition.key: condition.title for condition in looked.conditions}


def test_a_healthy_daemon_has_no_conditions() -> None:
    assert keys(snapshot(feed("rapid", "rapidoddsapi"))) == {}


def test_a_refused_key_says_so_and_a_feed_down_waits_for_its_threshold() -> None:
    refused = feed(
        "rapid",
        "rapidoddsapi",
        state="refused",
        last_error="RapidOddsAPI refused the key: HTTP 401; check the API key",
    )
    down = feed("rundown", state="backing off", last_error="HTTP 503")
    looked = look(snapshot(refused, down), SETTINGS, (), set(), pending_batches=0)
    by_key = {condition.key: condition for condition in looked.conditions}
    assert by_key["key_refused:rapid"].title == "arbwatch: rapid API key refused"
    assert by_key["key_refused:rapid"].delay == 0.0
    assert by_key["key_refused:rapid"].body.startswith("RapidOddsAPI refused the key")
    assert "tries it again" in by_key["key_refused:rapid"].body
    assert by_key["key_refused:rapid"].recovered == "arbwatch: rapid API key accepted again"
    assert by_key["feed_down:rundown"].title == "arbwatch: feed rundown down for 1m"
    assert by_key["feed_down:rundown"].delay == SETTINGS.feed_down
    assert "Last error: HTTP 503." in by_key["feed_down:rundown"].body
    # A refused feed is refused, not down: one alert, not two.
    assert "feed_down:rapid" not in by_key
    assert {"feed:rapid", "feed:rundown"} <= looked.known


def test_a_feed_still_connecting_for_the_first_time_is_not_known() -> None:
    starting = feed("rapid", "rapidoddsapi", state="connecting", reconnects=0)
    looked = look(snapshot(starting), SETTINGS, (), set(), pending_batches=0)
    assert "feed:rapid" not in looked.known


def test_a_silent_feed_is_alerted_past_its_threshold() -> None:
    assert keys(snapshot(feed("rundown", last_message_age=599.0))) == {}
    assert keys(snapshot(feed("rundown", last_message_age=600.0))) == {
        "feed_silent:rundown": "arbwatch: feed rundown silent for 10m"
    }


def test_credits_low_and_out_carry_the_providers_figures() -> None:
    low = feed("rapid", "rapidoddsapi", credits_remaining=900, credits_limit=10_000)
    assert keys(snapshot(low)) == {"credits_low:rapid": "arbwatch: rapid credits low: 900 left"}
    out = feed("rapid", "rapidoddsapi", credits_remaining=3, credits_limit=10_000,
               out_of_credits=True)  # fmt: skip
    looked = look(snapshot(out), SETTINGS, (), set(), pending_batches=0)
    (gone, _) = looked.conditions
    assert gone.title == "arbwatch: rapid out of credits"
    assert gone.body.startswith("RapidOddsAPI says 3 of 10,000 credits left")
    points = feed("rundown", credits_remaining=0, credits_limit=50_000)
    assert keys(snapshot(points))["credits_out:rundown"] == "arbwatch: rundown out of data points"


def test_a_failing_channel_is_told_through_the_others() -> None:
    failing = ChannelHealth("phone", 0, 3, 9, 0, 0, "HTTP 500", failing_since=NOW - 299.0)
    assert keys(snapshot(channels=(failing,))) == {}
    failing = dataclasses.replace(failing, failing_since=NOW - 300.0)
    looked = look(snapshot(channels=(failing,)), SETTINGS, (), set(), pending_batches=0)
    (condition,) = looked.conditions
    assert condition.title == "arbwatch: channel phone failing for 5m"
    assert condition.exclude == ("phone",)
    assert "last error: HTTP 500" in condition.body


def test_the_engine_is_stalled_only_with_batches_waiting() -> None:
    idle = snapshot(last_evaluation_age=120.0)
    assert keys(idle, pending=0) == {}
    assert keys(idle, pending=40) == {"engine_stalled": "arbwatch: engine stalled for 1m"}


def test_books_no_feed_delivered_are_reported_per_rule_after_the_threshold() -> None:
    early = snapshot(started_at=NOW - 899.0)
    assert keys(early, rules=(EV, ARBS), books={"Pinnacle", "FanDuel"}) == {}
    late = snapshot(started_at=NOW - 900.0)
    found = look(late, SETTINGS, (EV, ARBS), {"Pinnacle", "FanDuel"}, pending_batches=0)
    assert {c.key: c.title for c in found.conditions} == {
        "books_unseen:pin-ev": "arbwatch: rule pin-ev: no prices from Pinacle",
        "books_unseen:arbs": "arbwatch: rule arbs: no prices from Bovada",
    }
    assert "the feeds deliver: FanDuel, Pinnacle" in found.conditions[0].body
    assert {"rule:pin-ev", "rule:arbs"} <= found.known


def test_books_are_matched_as_the_engine_matches_them() -> None:
    # By canonical id: case and spacing never make a delivered book unseen.
    assert book_delivered("Pinnacle", {"Pinnacle"})
    assert book_delivered("pinnacle", {"Pinnacle"})
    assert book_delivered("thescorebet", {"theScore Bet"})
    assert not book_delivered("Pinacle", {"Pinnacle"})


def test_status_shows_the_conditions_that_hold_and_reads_them_back() -> None:
    problem = "arbwatch: rule pin-ev: no prices from Pinacle"
    found = snapshot(problems=(problem,))
    lines = status_lines(found)
    assert lines[lines.index("problems (1)") + 1] == f"  {problem}"
    document = json.loads(json.dumps(status_document(found)))
    assert health_from_document(document).problems == (problem,)


def test_out_of_credits_holds_low_back_until_a_top_up_leaves_credits_low() -> None:
    watch = HealthLifecycle(recovery=30, repeat=0)

    def step(at: float, remaining: int, out: bool) -> list[str]:
        rapid = feed("rapid", "rapidoddsapi", credits_remaining=remaining, credits_limit=1000,
                     out_of_credits=out)  # fmt: skip
        looked = look(snapshot(rapid, at=at), SETTINGS, (), set(), pending_batches=0)
        return [alert.title for alert in watch.step(looked.conditions, looked.known, at).alerts]

    assert step(NOW, 0, True) == ["arbwatch: rapid out of credits"]
    assert step(NOW + 10, 0, True) == []
    # Topped up to 5%: still low, which is said now; out of credits recovers 30 s later.
    assert step(NOW + 20, 50, False) == ["arbwatch: rapid credits low: 50 left"]
    assert step(NOW + 50, 50, False) == ["arbwatch: rapid credits back"]


def test_a_silent_feed_counts_from_its_last_message() -> None:
    watch = HealthLifecycle(recovery=0, repeat=0)
    silent = feed("rundown", last_message_age=700.0)
    looked = look(snapshot(silent), SETTINGS, (), set(), pending_batches=0)
    (raised,) = watch.step(looked.conditions, looked.known, NOW).alerts
    assert raised.title == "arbwatch: feed rundown silent for 10m"
    assert "sent no odds for 11m 40s" in raised.body
    talking = look(snapshot(feed("rundown")), SETTINGS, (), set(), pending_batches=0)
    (recovered,) = watch.step(talking.conditions, talking.known, NOW + 20).alerts
    assert recovered.body == "It lasted 12m."


def test_a_server_that_greets_each_reconnect_but_never_pushes_is_silent() -> None:
    # RapidOddsAPI: the greeting a moment ago is a message, but the last push is old.
    greeting_only = feed("rapid", "rapidoddsapi", last_message_age=2.0, last_data_age=700.0)
    assert keys(snapshot(greeting_only)) == {
        "feed_silent:rapid": "arbwatch: feed rapid silent for 10m"
    }
    pushing = feed("rapid", "rapidoddsapi", last_message_age=2.0, last_data_age=2.0)
    assert keys(snapshot(pushing)) == {}
    # Out of credits, pushes are skipped: that alert says why, not a second one.
    broke = dataclasses.replace(greeting_only, credits_remaining=0, out_of_credits=True)
    assert list(keys(snapshot(broke))) == ["credits_out:rapid"]


def test_a_failing_state_database_is_a_condition_shown_and_read_back() -> None:
    error = "could not record alerts: database or disk is full"
    failing = snapshot(store_failures=3, store_failing_since=NOW - 5, store_error=error)
    looked = look(failing, SETTINGS, (), set(), pending_batches=0)
    (condition,) = looked.conditions
    assert condition.key == "store_failing"
    assert condition.title == "arbwatch: state database not writable"
    assert condition.started == NOW - 5
    assert error in condition.body
    assert "store" in looked.known
    assert keys(snapshot(store_failures=3)) == {}  # failed before, written since
    assert f"3 state-database writes failed, failing now: {error}" in " ".join(
        status_lines(failing)
    )
    document = json.loads(json.dumps(status_document(failing)))
    back = health_from_document(document)
    assert (back.store_failing_since, back.store_error) == (NOW - 5, error)
