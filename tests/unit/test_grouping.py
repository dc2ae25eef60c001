"""Grouping and the cap a minute, decided with exact times (`arbwatch.notify.grouping`)."""

from __future__ import annotations

from arbwatch.notify.grouping import HEALTH_RULE, Grouper, GroupSettings, Outgoing
from arbwatch.notify.message import Message

NOW = 1_700_000_000.0
PHONE = GroupSettings(group_wait=1.5, group_interval=30.0, max_per_minute=6)


def alert(
    key: str, *, game: str = "g1", reason: str = "new", value: str = "+2.00%", at: float = NOW
) -> Message:
    return Message(
        title=f"ARB {value} · {key}",
        body=f"{key} body",
        found_at=at,
        rule="arbs",
        key=key,
        group=game,
        reason=reason,
    )


def health(key: str, at: float = NOW) -> Message:
    return Message(title=f"feed {key} down", body="", found_at=at, rule=HEALTH_RULE, key=key)


def titles(out: list[Outgoing]) -> list[str]:
    return [outgoing.message.title for outgoing in out]


def test_what_appears_together_goes_out_as_one_message_after_group_wait() -> None:
    grouper = Grouper(PHONE)
    for number, key in enumerate(["a", "b", "c"]):
        assert grouper.add(alert(key), number, NOW + number * 0.5) == []
    assert grouper.next_due() == NOW + 1.5
    assert grouper.due(NOW + 1.49) == []
    (out,) = grouper.due(NOW + 1.5)
    assert out.message.title == "ARB +2.00% · a (+2 more)"
    assert (
        out.message.body
        == "ARB +2.00% · a\na body\n\nARB +2.00% · b\nb body\n\nARB +2.00% · c\nc body"
    )
    assert [decision for _, decision in out.entries] == [0, 1, 2]
    assert len(grouper) == 0
    assert grouper.next_due() is None


def test_other_games_are_other_messages() -> None:
    grouper = Grouper(PHONE)
    grouper.add(alert("a", game="g1"), None, NOW)
    grouper.add(alert("b", game="g2"), None, NOW + 1.0)
    assert titles(grouper.due(NOW + 1.5)) == ["ARB +2.00% · a"]
    assert titles(grouper.due(NOW + 2.5)) == ["ARB +2.00% · b"]


def test_improvements_wait_for_the_interval_and_go_as_one_update_with_the_latest() -> None:
    grouper = Grouper(PHONE)
    grouper.add(alert("a", value="+4.87%"), 1, NOW)
    assert titles(grouper.due(NOW + 1.5)) == ["ARB +4.87% · a"]
    # The bet: 4.87 -> 5.74 -> 7.19 -> 8.09 % in 3 s, four pushes before.
    grouper.add(alert("a", reason="improved", value="+5.74%"), 2, NOW + 2.0)
    grouper.add(alert("a", reason="improved", value="+7.19%"), 3, NOW + 2.5)
    grouper.add(alert("a", reason="improved", value="+8.09%"), 4, NOW + 3.0)
    assert grouper.next_due() == NOW + 31.5
    assert grouper.due(NOW + 31.49) == []
    (update,) = grouper.due(NOW + 31.5)
    assert update.message.title == "ARB +8.09% · a"
    assert [decision for _, decision in update.entries] == [2, 3, 4]


def test_a_new_group_after_the_interval_waits_group_wait_only() -> None:
    grouper = Grouper(PHONE)
    grouper.add(alert("a"), None, NOW)
    grouper.due(NOW + 1.5)
    grouper.add(alert("b"), None, NOW + 100.0)
    assert grouper.next_due() == NOW + 101.5


def test_a_new_that_is_gone_before_it_is_sent_is_never_sent_nor_its_gone() -> None:
    grouper = Grouper(PHONE)
    grouper.add(alert("a"), 1, NOW)
    grouper.add(alert("b"), 2, NOW)
    cancelled = grouper.add(alert("a", reason="gone"), 3, NOW + 1.0)
    assert [decision for _, decision in cancelled] == [1, 3]
    assert titles(grouper.due(NOW + 1.5)) == ["ARB +2.00% · b"]


def test_a_gone_after_an_update_waiting_replaces_it() -> None:
    grouper = Grouper(PHONE)
    grouper.add(alert("a"), 1, NOW)
    grouper.due(NOW + 1.5)
    grouper.add(alert("a", reason="improved", value="+3.00%"), 2, NOW + 5.0)
    assert grouper.add(alert("a", reason="gone", value="+3.00%"), 3, NOW + 6.0) == []
    (out,) = grouper.due(NOW + 31.5)
    assert out.message.reason == "gone"
    assert [decision for _, decision in out.entries] == [2, 3]


def test_a_flood_is_capped_and_the_rest_folded_into_one_digest() -> None:
    grouper = Grouper(GroupSettings(group_wait=1.0, group_interval=30.0, max_per_minute=3))
    for number in range(10):
        grouper.add(alert(f"k{number}", game=f"g{number}"), number, NOW)
    out = grouper.due(NOW + 1.0)
    assert titles(out) == ["ARB +2.00% · k0", "ARB +2.00% · k1", "ARB +2.00% · k2"]
    assert len(grouper) == 7
    # The digest goes once the first send leaves the minute's window.
    assert grouper.next_due() == NOW + 61.0
    assert grouper.due(NOW + 60.9) == []
    (digest,) = grouper.due(NOW + 61.0)
    assert digest.message.title == "+7 more: ARB +2.00% · k3"
    assert digest.message.body.splitlines()[1:] == [f"- ARB +2.00% · k{n}" for n in range(3, 10)]
    assert [decision for _, decision in digest.entries] == list(range(3, 10))
    assert len(grouper) == 0


def test_what_comes_due_while_a_digest_waits_joins_it() -> None:
    grouper = Grouper(GroupSettings(group_wait=1.0, group_interval=30.0, max_per_minute=1))
    grouper.add(alert("a", game="g1"), None, NOW)
    grouper.add(alert("b", game="g2"), None, NOW)
    assert titles(grouper.due(NOW + 1.0)) == ["ARB +2.00% · a"]
    grouper.add(alert("c", game="g3"), None, NOW + 10.0)
    assert grouper.due(NOW + 11.0) == []
    assert titles(grouper.due(NOW + 61.0)) == ["+2 more: ARB +2.00% · b"]


def test_health_alerts_wait_group_wait_at_most_and_are_never_folded() -> None:
    grouper = Grouper(GroupSettings(group_wait=1.0, group_interval=30.0, max_per_minute=1))
    grouper.add(alert("a"), None, NOW)
    assert titles(grouper.due(NOW + 1.0)) == ["ARB +2.00% · a"]
    grouper.add(health("rapid"), None, NOW + 2.0)
    grouper.add(health("rundown"), None, NOW + 2.5)
    (out,) = grouper.due(NOW + 3.0)
    assert out.message.title == "feed rapid down (+1 more)"
    grouper.add(health("rapid", at=NOW + 40.0), None, NOW + 40.0)
    assert titles(grouper.due(NOW + 41.0)) == ["feed rapid down"]


def test_no_grouping_sends_each_alert_on_its_own() -> None:
    grouper = Grouper(GroupSettings(group_wait=0.0, group_interval=0.0, max_per_minute=0))
    grouper.add(alert("a"), None, NOW)
    grouper.add(alert("a", reason="improved", value="+3.00%"), None, NOW)
    assert titles(grouper.due(NOW)) == ["ARB +2.00% · a", "ARB +3.00% · a"]


def test_drain_sends_everything_at_once_for_shutdown_within_the_cap() -> None:
    grouper = Grouper(GroupSettings(group_wait=1.0, group_interval=30.0, max_per_minute=2))
    grouper.add(alert("a", game="g1"), None, NOW)
    grouper.due(NOW + 1.0)
    for game in ("g2", "g3", "g4"):
        grouper.add(alert(game, game=game), None, NOW + 2.0)
    # One more fits the minute; the rest goes as the digest, past the cap: the last message.
    assert titles(grouper.drain(NOW + 2.0)) == ["ARB +2.00% · g2", "+2 more: ARB +2.00% · g3"]
    assert len(grouper) == 0
    assert grouper.next_due() is None


def test_a_digest_names_each_opportunity_once_with_its_latest_figures() -> None:
    grouper = Grouper(GroupSettings(group_wait=1.0, group_interval=1.0, max_per_minute=1))
    grouper.add(alert("a", game="g1"), None, NOW)
    grouper.add(alert("b", game="g2"), 1, NOW)
    grouper.add(alert("c", game="g3"), 2, NOW)
    assert titles(grouper.due(NOW + 1.0)) == ["ARB +2.00% · a"]
    grouper.add(alert("b", game="g2", reason="improved", value="+3.00%"), 3, NOW + 5.0)
    assert grouper.due(NOW + 6.0) == []
    # c blinked: its NEW waited in the digest and its GONE cancels both.
    cancelled = grouper.add(alert("c", game="g3", reason="gone"), 4, NOW + 7.0)
    assert [decision for _, decision in cancelled] == [2, 4]
    (out,) = grouper.due(NOW + 61.0)
    assert out.message.title == "+1 more: ARB +3.00% · b"
    assert [decision for _, decision in out.entries] == [1, 3]
