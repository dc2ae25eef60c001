"""Which app a channel URL reaches, and an alert written the way that app shows it.

Picked from the URL's scheme: Telegram gets HTML in its own subset (apprise sends it with
``parse_mode=HTML``), with the bets in a ``<pre>`` block; Discord gets markdown with the bets
in a code block; e-mail gets an HTML part (apprise adds the plain-text part beside it) and
the title as its subject, which starts with the kind and the value (``ARB +2.14% · ...``)
so that a mailbox sorted by subject groups them; every other app gets plain text, one bet
per line. The facts are the same in all (`arbwatch.notify.message`).
"""

from __future__ import annotations

import html
import re
from enum import StrEnum
from typing import Final

import apprise

from arbwatch.notify.message import Message


class App(StrEnum):
    """How an app shows an alert."""

    TELEGRAM = "telegram"
    DISCORD = "discord"
    EMAIL = "email"
    TEXT = "text"


#: Apprise's schemes for each app with a format of its own; any other is plain text.
_SCHEMES: Final = {
    "tgram": App.TELEGRAM,
    "discord": App.DISCORD,
    "mailto": App.EMAIL,
    "mailtos": App.EMAIL,
}
#: ``<pre>...</pre>`` blocks, whose line breaks are kept as they are in an e-mail.
_PRE: Final = re.compile(r"(<pre>.*?</pre>)", re.DOTALL)


def app_of(url: str) -> App:
    """The app an apprise URL reaches, by its scheme (``tgram://...`` is Telegram)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return _SCHEMES.get(scheme, App.TEXT)


def payload(message: Message, app: App) -> tuple[str, str, apprise.NotifyFormat]:
    """(title, body, the body's format) of ``message`` for ``app``, as apprise takes them.

    Telegram has no separate title: apprise puts it in bold above an HTML body, unescaped,
    so it is escaped here. An e-mail's title is its subject, plain text.
    """
    if app is App.TELEGRAM:
        return (
            html.escape(message.title, quote=False),
            message.html_body(),
            apprise.NotifyFormat.HTML,
        )
    if app is App.DISCORD:
        return message.title, message.markdown_body(), apprise.NotifyFormat.MARKDOWN
    if app is App.EMAIL:
        return message.title, email_html(message), apprise.NotifyFormat.HTML
    return message.title, message.body, apprise.NotifyFormat.TEXT


def email_html(message: Message) -> str:
    """The HTML part of an e-mail: the Telegram HTML with ``<br>`` for line breaks.

    HTML folds newlines into spaces, except inside ``<pre>``, where the bets are lined up.
    """
    parts = _PRE.split(message.html_body())
    body = "".join(
        # No newline after <br>: apprise's plain-text part would start each line with a space.
        part if part.startswith("<pre>") else part.replace("\n", "<br>")
        for part in parts
    )
    return f"<div>{body}</div>"
