"""Shared by the parser tests: recorded frames, and hypothesis strategies for fuzzing."""

from __future__ import annotations

import contextlib
import copy
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from arbwatch.core.markets import MarketKind, Period
from arbwatch.feeds.decoding import MAX_ABS_LINE
from arbwatch.feeds.model import ParsedQuote, ParseError

FRAMES = Path(__file__).resolve().parent.parent / "fixtures" / "frames"
FUZZ = settings(derandomize=True, max_examples=300, deadline=None, database=None)


def frame(name: str) -> bytes:
    return (FRAMES / name).read_bytes()


def fixture(name: str) -> Any:
    return json.loads(frame(name))


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- fuzzing helpers (shared with test_parse_rundown.py) -------------------------------

#: Values a broken or hostile server could put anywhere: numbers at and past every
#: boundary, numeric and date text, wrong types.
SPECIAL_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -0.0,
    1,
    -1,
    1.0,
    1.0000000001,
    0.0001,
    99,
    -99,
    100,
    -100,
    -117,
    10**20,
    -(10**20),
    10**400,
    1e308,
    -1e308,
    5e-324,
    "",
    "0",
    "0.0001",
    "-117",
    "+105",
    "-122.0000",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e400",
    "-1e20",
    "1_000",
    " 3",
    "٣",
    "Over",
    "Under",
    "Draw",
    "Tie",
    "o24.5",
    "Over 1e400",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "not a time",
    [],
    {},
    [1, "a"],
    {"price": 1},
]

JSON_LEAVES = st.one_of(
    st.sampled_from(SPECIAL_VALUES),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
#: Any JSON value (NaN and infinity excluded: JSON has neither).
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)
#: Python values for parsers that take decoded JSON: NaN and infinities too.
PY_VALUES = st.one_of(JSON_VALUES, st.floats(), st.sampled_from([math.nan, math.inf]))


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value, containers included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return value


def mutations(base: Any, values: st.SearchStrategy[Any] = JSON_VALUES) -> st.SearchStrategy[Any]:
    """A recorded frame with up to six of its fields (or whole subtrees) replaced."""
    all_paths = paths(base)
    edits = st.lists(st.tuples(st.integers(0, len(all_paths) - 1), values), min_size=1, max_size=6)

    def apply(chosen: list[tuple[int, Any]]) -> Any:
        value = copy.deepcopy(base)
        for index, new in chosen:
            # An earlier edit may have replaced this path's parent: then it is gone.
            with contextlib.suppress(KeyError, IndexError, TypeError):
                value = replace_at(value, all_paths[index], new)
        return value

    return edits.map(apply)


def check_quote(quote: object, *, withdrawn_allowed: bool = True) -> None:
    """The contract of every parsed quote (see arbwatch.feeds.model)."""
    assert isinstance(quote, ParsedQuote)
    assert isinstance(quote.kind, MarketKind)
    assert isinstance(quote.period, Period)
    if math.isnan(quote.price):
        assert withdrawn_allowed
    else:
        assert math.isfinite(quote.price)
        assert quote.price > 1.0
    assert math.isfinite(quote.line)
    assert abs(quote.line) <= MAX_ABS_LINE
    assert math.isfinite(quote.quoted_at)
    assert isinstance(quote.book, str)
    assert quote.book
    assert 0 <= quote.side < quote.kind.outcome_count
    if quote.kind is MarketKind.PLAYER_PROP:
        assert quote.player
        assert quote.stat
    else:
        assert quote.player == ""
        assert quote.stat == ""
    if quote.kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
        assert quote.line == 0.0


def only_parse_errors(call: Callable[[], object]) -> object | None:
    """Run a parser: it either returns or raises ParseError, never anything else."""
    try:
        return call()
    except ParseError:
        return None
