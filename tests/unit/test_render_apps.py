"""Every kind of alert, written for every app: valid markup, and the same facts in each."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

import apprise
import pytest

from arbwatch.core.evaluate import ArbitrageSettings, find_arbitrage
from arbwatch.core.markets import Event
from arbwatch.notify.apps import App, app_of, email_html, payload
from arbwatch.notify.message import Message, combine, digest, render_gone
from tests.unit.test_message import (
    NOW,
    START,
    one_book_prices,
    positive_ev,
    show,
    three_way_arb,
    two_way_arb,
)

#: The tags Telegram's HTML parse mode accepts (core.telegram.org/bots/api#html-style).
TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip
#: What an e-mail's HTML part is written with.
EMAIL_TAGS = TELEGRAM_TAGS | {"div", "br"}
#: Elements with no end tag.
VOID = {"br"}


def gone(with_opportunity: bool) -> Message:
    return render_gone(
        two_way_arb() if with_opportunity else None,
        summary="NBA · Lakers @ Celtics · Moneyline",
        rule="nba-arbs",
        key="key-1",
        first_seen=NOW - 252.0,
        now=NOW,
        best_value=0.0373,
        kind="arbitrage",
    )


def linked_arb() -> Message:
    event = Event(
        "g1",
        sport="NBA",
        home="Celtics",
        away="Lakers",
        starts_at=START,
        url="https://x.test/g?a=1&b=<2>",
    )
    return show(two_way_arb(events=(event,)))


def one_book() -> Message:
    (arbitrage,) = find_arbitrage(one_book_prices().block(), NOW, ArbitrageSettings(min_books=1))
    return show(arbitrage)


ALERTS: dict[str, Callable[[], Message]] = {
    "arb-new": lambda: show(two_way_arb()),
    "arb-improved": lambda: show(two_way_arb(), reason="improved"),
    "arb-repeat": lambda: show(two_way_arb(), reason="repeat"),
    "arb-3-way-commission": lambda: show(three_way_arb()),
    "arb-one-book": one_book,
    "arb-linked": linked_arb,
    "ev-new": lambda: show(positive_ev()),
    "ev-improved": lambda: show(positive_ev(), reason="improved"),
    "gone": lambda: gone(True),
    "gone-from-summary": lambda: gone(False),
    # As the daemon writes them: plain title and body, no markup of their own.
    "health": lambda: Message(
        title="Feed rapid <down> for 2m & counting",
        body="RapidOddsAPI: connection refused\nsince 12:00 UTC",
        found_at=NOW,
        rule="health",
        key="feed_down:rapid",
    ),
    "group": lambda: combine([show(two_way_arb()), show(positive_ev()), gone(True)]),
    "digest": lambda: digest([show(two_way_arb()), show(positive_ev()), gone(False)]),
}


class TagChecker(HTMLParser):
    """Parses HTML, recording tags outside ``allowed``, unbalanced ones, and the text."""

    def __init__(self, allowed: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed = allowed
        self.open: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.allowed:
            self.problems.append(f"<{tag}> not allowed")
        if tag == "a" and [name for name, _ in attrs] != ["href"]:
            self.problems.append(f"<a> with {attrs}")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"</{tag}> does not close the last tag opened")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def checked_html(markup: str, allowed: set[str]) -> str:
    """The text of ``markup``, after checking its tags are allowed and balanced."""
    checker = TagChecker(allowed)
    checker.feed(markup)
    checker.close()
    assert checker.problems == []
    assert checker.open == []
    return "".join(checker.text)


def facts(message: Message) -> list[str]:
    """The figures a bettor acts on: prices, amounts, percentages, durations."""
    return re.findall(r"[$£€+-]?\d[\d,./]*%?", message.title + "\n" + message.body)


def unescape_markdown(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.mark.parametrize("kind", ALERTS)
def test_telegram_gets_its_html_subset_with_the_same_facts(kind: str) -> None:
    message = ALERTS[kind]()
    title, body, body_format = payload(message, App.TELEGRAM)
    assert body_format is apprise.NotifyFormat.HTML
    # Apprise puts the title in bold above the body, as it is: it must be valid HTML too.
    text = checked_html(f"<b>{title}</b>\n{body}", TELEGRAM_TAGS)
    for fact in facts(message):
        assert fact in text
    if kind.startswith(("arb", "ev")):
        assert "<pre>" in body  # the bets in a monospace block


@pytest.mark.parametrize("kind", ALERTS)
def test_email_gets_an_html_part_with_the_same_facts_and_a_plain_subject(kind: str) -> None:
    message = ALERTS[kind]()
    subject, body, body_format = payload(message, App.EMAIL)
    assert body_format is apprise.NotifyFormat.HTML
    assert subject == message.title
    text = checked_html(body, EMAIL_TAGS)
    for fact in facts(message):
        assert fact in subject + text


@pytest.mark.parametrize("kind", ALERTS)
def test_discord_markdown_is_balanced_with_the_same_facts(kind: str) -> None:
    message = ALERTS[kind]()
    title, body, body_format = payload(message, App.DISCORD)
    assert body_format is apprise.NotifyFormat.MARKDOWN
    assert body.count("```") % 2 == 0
    outside = re.sub(r"```.*?```", "", body, flags=re.DOTALL)
    unescaped = re.sub(r"\\.", "", outside)
    assert unescaped.count("**") % 2 == 0
    for mark in ("`", "__", "~~", "||"):
        assert mark not in unescaped.replace("**", ""), mark
    for fact in facts(message):
        assert fact in title + unescape_markdown(body)


@pytest.mark.parametrize("kind", ALERTS)
def test_other_apps_get_plain_text(kind: str) -> None:
    message = ALERTS[kind]()
    assert payload(message, App.TEXT) == (message.title, message.body, apprise.NotifyFormat.TEXT)


def test_the_legs_are_lined_up_in_a_monospace_block_for_telegram_and_discord() -> None:
    message = show(two_way_arb())
    block = [
        "Celtics  +110  @ Pinnacle    stake $493.98  quote 4s old",
        "Lakers   +105  @ DraftKings  stake $506.02  quote 2s old",
    ]
    assert message.html.startswith("<pre>" + "\n".join(block) + "</pre>\n")
    assert message.markdown.startswith("```\n" + "\n".join(block) + "\n```\n")


def test_email_keeps_the_block_and_breaks_the_other_lines() -> None:
    body = email_html(show(two_way_arb()))
    assert body.startswith("<div><pre>Celtics  +110  @ Pinnacle")
    assert "staked<br>Tue 14 Jan 19:30 EST · starts in 2h 13m<br>rule nba-arbs</div>" in body


def test_text_from_the_store_without_markup_is_escaped_for_every_app() -> None:
    # What the notification log resends after a restart carries no html or markdown.
    stored = Message(title="A <b> & *c*", body="x < y & *z*_", found_at=NOW, rule="r", key="k")
    assert payload(stored, App.TELEGRAM)[:2] == ("A &lt;b&gt; &amp; *c*", "x &lt; y &amp; *z*_")
    assert payload(stored, App.DISCORD)[1] == r"x < y & \*z\*\_"
    assert html.unescape(payload(stored, App.EMAIL)[1]) == "<div>x < y & *z*_</div>"


@pytest.mark.parametrize(
    ("url", "app"),
    [
        ("tgram://123:abc/456", App.TELEGRAM),
        ("TGRAM://123:abc/456", App.TELEGRAM),
        ("discord://1/abc", App.DISCORD),
        ("mailto://u:p@example.com", App.EMAIL),
        ("mailtos://u:p@example.com?to=a@example.com", App.EMAIL),
        ("json://127.0.0.1:8080/hook", App.TEXT),
        ("console://", App.TEXT),
        ("ntfy://topic", App.TEXT),
        ("nonsense", App.TEXT),
    ],
)
def test_the_app_comes_from_the_url_scheme(url: str, app: App) -> None:
    assert app_of(url) is app
