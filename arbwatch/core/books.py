"""Book names: one canonical id per bookmaker, however it is spelled.

Providers and bettors spell the same book differently: TheRundown's "theScore Bet" is
RapidOddsAPI's "theScoreBet", and a bettor writes ``books: [thescorebet]``. Rules pick books
by `book_id`, never by the exact text, so a rule fires on prices from "Pinnacle" whether it
names ``Pinnacle``, ``pinnacle`` or ``PINNACLE``.
"""

from __future__ import annotations

from collections.abc import Iterable


def book_id(name: str) -> str:
    """The canonical id of a book's name: case folded, letters and digits only.

    ``"theScore Bet"``, ``"theScoreBet"`` and ``"thescorebet"`` are all ``"thescorebet"``;
    ``"Bet 365"`` and ``"bet365"`` are ``"bet365"``. Spaces and punctuation go because
    providers differ on them and no two real books differ by them alone.
    """
    return "".join(character for character in name.casefold() if character.isalnum())


def book_ids(names: Iterable[str]) -> frozenset[str]:
    """The canonical ids of ``names`` (see `book_id`)."""
    return frozenset(map(book_id, names))
