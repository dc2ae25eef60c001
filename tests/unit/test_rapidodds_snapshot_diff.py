"""A RapidOddsAPI push compared with the last one, book-game by book-game (pure, no sockets).

The session reads only the book-games whose bytes changed since the last push. These
tests hold it to what reading every push in full gives: the same cells on the engine's
board, the same counts, and updates only for what changed.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.collector import collector_paused
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.rapidodds.session import RapidOddsSession, SessionResult
from tests.unit.frames import FUZZ, epoch

T0, T1 = "2026-02-25T10:00:00", "2026-02-25T10:00:05"
START = "2026-02-25T11:00:00"
#: (home team, away team) of the games the tests push.
TEAMS = (("Lakers", "Celtics"), ("Heat", "Bulls"), ("Knicks", "Nets"))
BOOKS = ("Pinnacle", "DraftKings", "BetMGM")
MAX_PRICE = 10.0

#: One cell as the engine holds it: (event, market kind, line, outcome, book).
Cell = tuple[str, str, float, int, str]


def book(name: str, moneyline: tuple[Any, Any], total: tuple[Any, Any] | None = None, *,
         line: float = 220.5, updated: str | None = T0, teams: tuple[str, str] = TEAMS[0]
         ) -> dict[str, Any]:  # fmt: skip
    markets: list[dict[str, Any]] = [
        {
            "key": "head_to_head",
            "outcomes": [
                {"name": teams[0], "price": moneyline[0]},
                {"name": teams[1], "price": moneyline[1]},
            ],
        }
    ]
    if total is not None:
        markets.append(
            {
                "key": "alternate_total_points",
                "outcomes": [
                    {"name": "Over", "price": total[0], "point": line},
                    {"name": "Under", "price": total[1], "point": line},
                ],
            }
        )
    entry: dict[str, Any] = {"name": name, "markets": markets}
    if updated is not None:
        entry["last_update"] = updated
    return entry


def game(books: Sequence[Any], teams: tuple[str, str] = TEAMS[0]) -> dict[str, Any]:
    return {
        "game": {"commence_time": START, "home_team": teams[0], "away_team": teams[1]},
        "bookmakers": list(books),
    }


def push(games: Sequence[Any], at: str = T0) -> str:
    data = {"sport": "NBA", "games": list(games)}
    return json.dumps({"event": "odds_update", "sport": "NBA", "timestamp": at, "data": data})


def new_session() -> RapidOddsSession:
    return RapidOddsSession(EventIdentity(), feed="rapid", max_price=MAX_PRICE)


def apply(board: dict[Cell, tuple[float, float]], batch: FeedBatch | None) -> None:
    """What the engine does with a batch: NaN takes a cell off the board."""
    for update in () if batch is None else batch.updates:
        market = update.market
        cell = (market.event_id, market.kind.value, market.line, update.outcome, update.book)
        if math.isnan(update.price):
            board.pop(cell, None)
        else:
            board[cell] = (update.price, update.quoted_at)


def counts(result: SessionResult) -> tuple[int, ...]:
    return (
        result.quotes,
        result.skipped_games,
        result.skipped_markets,
        result.skipped_outcomes,
        result.skipped_prices,
        result.invalid_quotes,
    )


BOARD = [
    game([book(name, (2.1, 1.8), (1.9, 1.95)) for name in BOOKS]),
    game([book(name, (1.6, 2.4), teams=TEAMS[1]) for name in BOOKS], TEAMS[1]),
]


def test_an_unchanged_push_becomes_no_update_and_keeps_its_counts() -> None:
    session = new_session()
    first = session.handle_message(push(BOARD), 1.0)
    again = session.handle_message(push(BOARD), 2.0)
    assert first.batch is not None
    assert len(first.batch.updates) == 18
    assert again.batch is None
    assert counts(again) == counts(first) == (18, 0, 0, 0, 0, 0)


def test_one_changed_price_is_exactly_one_update() -> None:
    session = new_session()
    session.handle_message(push(BOARD), 1.0)
    changed = [game([book("Pinnacle", (2.1, 1.8), (1.9, 2.05)), *BOARD[0]["bookmakers"][1:]])]
    result = session.handle_message(push([*changed, BOARD[1]]), 2.0)
    assert result.batch is not None
    (update,) = result.batch.updates
    assert (update.book, update.market.kind.value, update.outcome, update.price) == (
        "Pinnacle",
        "total",
        1,
        2.05,
    )


def test_a_book_whose_time_moved_sends_its_prices_again_with_the_new_time() -> None:
    # The quote time is part of what the engine holds (it ages quotes out), so a book
    # that re-confirmed its prices sends them again; the other books send nothing.
    session = new_session()
    session.handle_message(push(BOARD), 1.0)
    moved = book("BetMGM", (2.1, 1.8), (1.9, 1.95), updated=T1)
    result = session.handle_message(push([game([*BOARD[0]["bookmakers"][:2], moved])]), 2.0)
    assert result.batch is not None
    fresh = [u for u in result.batch.updates if not math.isnan(u.price)]
    assert {(u.book, u.quoted_at) for u in fresh} == {("BetMGM", epoch(T1))}
    assert len(fresh) == 4


def test_a_book_game_that_disappears_is_withdrawn_and_the_rest_stays() -> None:
    session = new_session()
    board: dict[Cell, tuple[float, float]] = {}
    apply(board, session.handle_message(push(BOARD), 1.0).batch)
    without_mgm = game(BOARD[0]["bookmakers"][:2])
    result = session.handle_message(push([without_mgm, BOARD[1]]), 2.0)
    assert result.batch is not None
    assert result.withdrawn == 4
    assert {(u.book, math.isnan(u.price)) for u in result.batch.updates} == {("BetMGM", True)}
    assert {u.quoted_at for u in result.batch.updates} == {epoch(T0)}  # the push's time
    apply(board, result.batch)
    assert len(board) == 14
    assert not any(cell[4] == "BetMGM" and cell[0].startswith("NBA:celtics") for cell in board)


def test_a_game_that_disappears_withdraws_every_book_of_it() -> None:
    session = new_session()
    session.handle_message(push(BOARD), 1.0)
    result = session.handle_message(push([BOARD[0]]), 2.0)
    assert result.batch is not None
    assert result.withdrawn == 6
    assert all(math.isnan(u.price) for u in result.batch.updates)
    assert {u.market.event_id for u in result.batch.updates} == {
        e.event_id for e in result.batch.events if e.home == "Heat"
    }


def test_a_cell_moved_to_another_line_is_withdrawn_and_the_new_one_sent() -> None:
    session = new_session()
    session.handle_message(push(BOARD), 1.0)
    moved = book("Pinnacle", (2.1, 1.8), (1.9, 1.95), line=221.5)
    pushed = [game([moved, *BOARD[0]["bookmakers"][1:]]), BOARD[1]]
    result = session.handle_message(push(pushed), 2.0)
    assert result.batch is not None
    lines = {
        (u.market.line, math.isnan(u.price)) for u in result.batch.updates if u.book == "Pinnacle"
    }
    assert lines == {(220.5, True), (221.5, False)}


def test_malformed_parts_are_skipped_and_counted_and_the_rest_applies() -> None:
    session = new_session()
    broken = [
        game([book("Pinnacle", ("2.1", 1.8)), book("DraftKings", (2.0, 1.85))]),  # a text price
        game([5, book("Pinnacle", (1.6, 2.4), teams=TEAMS[1])], TEAMS[1]),  # a book not an object
        {"game": {"home_team": "Knicks"}},  # no away team, no time
        game([book("Pinnacle", (1.5, 30.0), teams=TEAMS[2])], TEAMS[2]),  # over max_price
    ]
    first = session.handle_message(push(broken), 1.0)
    assert first.batch is not None
    assert (first.skipped_games, first.skipped_prices) == (2, 1)
    sent = {(u.book, u.price) for u in first.batch.updates}
    assert {("Pinnacle", 1.8), ("DraftKings", 2.0), ("DraftKings", 1.85), ("Pinnacle", 1.5)} <= sent
    assert session.bounds.refused == 1
    # The same push again: nothing new, and the same parts are counted again.
    again = session.handle_message(push(broken), 2.0)
    assert counts(again) == counts(first)
    assert session.bounds.refused == 2


def test_the_collector_is_paused_inside_and_left_as_found_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failed decode")
    assert gc.isenabled()


# --- the comparison equals reading every push in full ---------------------------------------

PRICES = st.sampled_from([1.5, 1.9, 2.1, 2.5, "2.0", None, 1.0, 30.0])
BOOK_ENTRY = st.builds(
    lambda moneyline, total, line, updated: (moneyline, total, line, updated),
    st.tuples(PRICES, PRICES),
    st.none() | st.tuples(PRICES, PRICES),
    st.sampled_from([220.5, 221.5]),
    st.sampled_from([T0, T1, None]),
)
GAME = st.tuples(
    st.sampled_from(range(len(TEAMS))),
    st.dictionaries(st.sampled_from(BOOKS), BOOK_ENTRY | st.just("broken"), max_size=3),
)
PUSHES = st.lists(st.tuples(st.lists(GAME, max_size=3), st.booleans()), min_size=1, max_size=6)


def render(games: Sequence[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    rendered = []
    for number, books in games:
        teams = TEAMS[number]
        entries: list[Any] = [
            5 if spec == "broken" else book(name, spec[0], spec[1], line=spec[2],
                                            updated=spec[3], teams=teams)
            for name, spec in books.items()
        ]  # fmt: skip
        rendered.append(game(entries, teams))
    return rendered


@FUZZ
@given(PUSHES)
def test_comparing_pushes_gives_the_board_and_counts_of_reading_each_in_full(
    steps: Sequence[tuple[list[tuple[int, dict[str, Any]]], bool]],
) -> None:
    session = new_session()
    board: dict[Cell, tuple[float, float]] = {}
    # After a dropped batch the next push is sent in full, repeats and all.
    in_full = False
    for number, (games, dropped) in enumerate(steps):
        text = push(render(games), at=f"2026-02-25T10:00:1{number}")
        refused_before = session.bounds.refused
        result = session.handle_message(text, float(number))
        if dropped and result.batch is not None:
            session.batch_dropped(result.sport)
            in_full = True
            continue
        before = dict(board)
        apply(board, result.batch)
        whole = new_session()
        full = whole.handle_message(text, float(number))
        expected: dict[Cell, tuple[float, float]] = {}
        apply(expected, full.batch)
        assert board == expected
        assert counts(result) == counts(full)
        assert session.bounds.refused - refused_before == whole.bounds.refused
        if not in_full and result.batch is not None:
            # Only what changed was sent: no price the board held, no withdrawal of a
            # cell it did not hold.
            for update in result.batch.updates:
                market = update.market
                cell = (
                    market.event_id,
                    market.kind.value,
                    market.line,
                    update.outcome,
                    update.book,
                )
                if math.isnan(update.price):
                    assert cell in before or cell not in board
                else:
                    assert before.get(cell) != (update.price, update.quoted_at)
        in_full = False
