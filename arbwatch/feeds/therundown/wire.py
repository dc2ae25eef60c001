"""TheRundown: parsers of the V2 REST bootstrap, WebSocket and market delta, and of V1 (sans-I/O).

Sans-I/O: a driver feeds response bodies and frames in and gets typed values out. The
parsing API is:

- REST bootstrap: `parse_sports`, `parse_affiliates` (the retired affiliate 27 dropped),
  and `parse_events` -> `EventsPage` (events, quotes, the market-delta cursor, and the
  participant join table the WebSocket needs).
- V2 markets WebSocket (``/api/v2/ws/markets``): `parse_ws_frame` -> `Heartbeat`,
  `PriceChange` or `UnknownMessage`.
- Market delta (``/api/v2/markets/delta``): `parse_market_delta` -> `DeltaPage`.
- V1 WebSocket (``/api/v1/ws``): `parse_v1_frame` -> `Heartbeat`, `V1Update` or
  `UnknownMessage`.

A frame or body that cannot be read raises `ParseError`; inside a readable one, bad parts
are skipped and counted. Prices are decimal > 1.0, or NaN for a quote taken off the board;
lines are finite, at most `MAX_ABS_LINE` in size and rounded with `normalize_line`.

Prices. American odds, as JSON numbers on REST and as strings on the WebSocket and the
delta feed ("-117", "+105", "-122.0000"); both forms are read everywhere. ``0.0001`` is
the off-board sentinel and becomes NaN, as does ``0`` (the official code treats it as no
price, and withdrawing is the safe reading), a non-empty ``closed_at``, and a delta
``change_type`` of "close"/"closed". Any other value in (-100, 100), or one that is not a
finite number, is invalid: that one quote is skipped and counted, not the frame.

The join table. A WebSocket or delta price carries ``event_id``, ``market_id``, the
normalized participant id (the REST ``participant.id``: a team id, an Over/Under result id
or a player id) and the line, but no period and no side. A team id recurs in every
market and every game of the team, so the table is keyed by `ParticipantKey` (event id,
market id, participant id) and gives a `ParticipantRef`: provider event, market kind,
period, side (HOME/AWAY/DRAW or OVER/UNDER), and for props the player and statistic. The
line comes from the frame, since one participant has several lines (alternates, moves).

Markets (`MARKETS`): 1 moneyline, 2 spread (the line is that team's own handicap), 3 total
(TYPE_RESULT "Over"/"Under"), 4 first-half moneyline, and the player props 29 points,
35 rebounds, 39 assists, 38 three-pointers ("made_threes"), 33 turnovers, 98 blocks,
93 points+rebounds+assists, 99 points+assists, 297 points+rebounds, 298 rebounds+assists.
Their live variants (41, 42, 43, 1024, 90, 91, 92, 982, 983, 984) map to the same kinds:
a live full-game moneyline settles exactly like a pre-match one, so they share a market;
quote age, not the market, tells a live price from a stale one. Other markets are skipped.

Choices where no source is explicit (providers.md §1.5 and §4):

- **Draw.** A market-1 participant named "Draw" (or "Tie") is the DRAW outcome, and the
  market is then MONEYLINE_3WAY for every side [I: no example found]. In a sport of
  ``draw_sports`` (soccer by default) the moneyline is three-way even when no draw
  participant came: read as 2-way, a soccer game's home and away prices would look like
  an arbitrage.
- **Player props.** Over/Under under a TYPE_PLAYER participant is undocumented. The word
  "Over" or "Under" is looked for in the participant name ("LeBron James Over",
  "Over - LeBron James", "LeBron James (Under)"); the rest of the name is the player.
  Failing that, the line value may carry it ("Over 24.5", "o24.5"). A prop that says
  neither is one-sided (a scorer market) and is skipped.
- **Periods** (`period_for`): 0 full game, 1 first half, 2 second half, 3-6 first to
  fourth quarter; for tennis (sports 38, 39) 3 and 4 are the first and second set, and for
  hockey (6, 27, 28) 3-5 are the first to third period. Live periods map like their
  pre-match ones (7 -> 0, 13-18 -> 1-6). Period 1 in baseball is presumably the first five
  innings; it stays FIRST_HALF so that it never pairs with another provider's
  first-five-innings market on a guess. Others are skipped.
- **V1 draw.** ``moneyline_draw`` is 0.0001 in sports without a draw, meaning "no draw
  market", not a withdrawal. So a V1 moneyline is 3-way when the sport is in
  ``draw_sports`` (soccer by default) or its draw is a real price; only then does a
  sentinel draw withdraw the draw. A book's 3-way and 2-way moneylines are distinct
  markets, so a flip between them is handled by `V1Update` scope replacement.
- **V1 lines.** A V1 frame carries one line per book and market type: it replaces what
  that book quoted in that scope (`V1Scope`). When a spread moves from -3.5 to -4, the
  -3.5 cell must be withdrawn, and a sentinel line (0.0001) leaves no cell to price.
  Pass each update's quotes through `arbwatch.feeds.model.withdraw_missing` with the
  cells last seen for its scope.
- **Timestamps.** A quote's time is its ``updated_at`` (V1 ``date_updated``); else the
  frame's ``meta.timestamp``; else the caller's ``received_at``. A WebSocket frame with
  none of them is a `ParseError`; a REST or delta price with none is skipped and counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple, TypeAlias

import msgspec

from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, UNDER, MarketKind, Period, normalize_line
from arbwatch.core.odds import american_to_decimal
from arbwatch.errors import InvalidOddsError
from arbwatch.feeds.decoding import MAX_ABS_LINE, decode_json, parse_utc_timestamp
from arbwatch.feeds.model import ParsedQuote, ParseError, ProviderEvent

#: The provider name put on `ProviderEvent`s unless the caller passes another.
PROVIDER: Final = "therundown"

#: The price or line a book sends when it has taken the line off the board.
OFF_BOARD: Final = 0.0001

#: Affiliates that the catalog may still list but that no longer quote.
RETIRED_AFFILIATES: Final = frozenset({27})

#: Soccer, where a moneyline has a draw (MLS, EPL, the European leagues, UEFA, FIFA, J1).
DRAW_SPORTS: Final = frozenset({10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 33})
#: Tennis (ATP, WTA): period ids 3 and 4 are sets, not quarters.
TENNIS_SPORTS: Final = frozenset({38, 39})
#: Hockey (NHL, preseason, playoffs): period ids 3 to 5 are its three periods.
HOCKEY_SPORTS: Final = frozenset({6, 27, 28})

# Epoch seconds later than the last second of year 9999 are not a time.
_MAX_EPOCH: Final = 253_402_300_799.0


class _MarketSpec(NamedTuple):
    kind: MarketKind
    stat: str = ""


_MONEYLINE: Final = _MarketSpec(MarketKind.MONEYLINE)
_SPREAD: Final = _MarketSpec(MarketKind.SPREAD)
_TOTAL: Final = _MarketSpec(MarketKind.TOTAL)


def _prop(stat: str) -> _MarketSpec:
    return _MarketSpec(MarketKind.PLAYER_PROP, stat)


#: Market ids this module reads, pre-match and live, and what they are. Market 1 (and its
#: variants) becomes MONEYLINE_3WAY when it has a draw. Use the keys to filter a feed.
MARKETS: Final[Mapping[int, _MarketSpec]] = {
    1: _MONEYLINE,
    41: _MONEYLINE,
    4: _MONEYLINE,
    1024: _MONEYLINE,
    2: _SPREAD,
    42: _SPREAD,
    3: _TOTAL,
    43: _TOTAL,
    29: _prop("points"),
    90: _prop("points"),
    35: _prop("rebounds"),
    982: _prop("rebounds"),
    39: _prop("assists"),
    91: _prop("assists"),
    38: _prop("made_threes"),
    92: _prop("made_threes"),
    33: _prop("turnovers"),
    984: _prop("turnovers"),
    98: _prop("blocks"),
    983: _prop("blocks"),
    93: _prop("points_rebounds_assists"),
    99: _prop("points_assists"),
    297: _prop("points_rebounds"),
    298: _prop("rebounds_assists"),
}

_QUARTERS: Final = {
    3: Period.FIRST_QUARTER,
    4: Period.SECOND_QUARTER,
    5: Period.THIRD_QUARTER,
    6: Period.FOURTH_QUARTER,
}
_SETS: Final = {3: Period.FIRST_SET, 4: Period.SECOND_SET}
_HOCKEY_PERIODS: Final = {
    3: Period.FIRST_PERIOD,
    4: Period.SECOND_PERIOD,
    5: Period.THIRD_PERIOD,
}
_HALVES: Final = {0: Period.FULL_GAME, 1: Period.FIRST_HALF, 2: Period.SECOND_HALF}


def period_for(period_id: int, sport_id: int | None = None) -> Period | None:
    """The period a TheRundown ``period_id`` means in a sport, or None when unmapped."""
    # Live periods: 7 is the live full game, 13-18 are the live counterparts of 1-6.
    base = 0 if period_id == 7 else period_id - 12 if 13 <= period_id <= 18 else period_id
    if base in _HALVES:
        return _HALVES[base]
    if sport_id in TENNIS_SPORTS:
        return _SETS.get(base)
    if sport_id in HOCKEY_SPORTS:
        return _HOCKEY_PERIODS.get(base)
    return _QUARTERS.get(base)


# --- public values ---------------------------------------------------------------------


class SkipReason(StrEnum):
    """Why a price frame produced no quote."""

    #: The (event, market, participant) is not in the join table: refresh the event.
    UNKNOWN_PARTICIPANT = "unknown_participant"
    #: The affiliate id is not in the affiliates map: refresh it, or the book is ignored.
    UNKNOWN_AFFILIATE = "unknown_affiliate"
    #: A market id outside `MARKETS`; narrow the feed's ``market_ids`` filter.
    UNSUPPORTED_MARKET = "unsupported_market"
    #: A V1 ``period_id`` that `period_for` does not map.
    UNSUPPORTED_PERIOD = "unsupported_period"
    #: A line that is not a finite number of sane size, or is the off-board sentinel.
    INVALID_LINE = "invalid_line"


class ParticipantKey(NamedTuple):
    """The join key of a V2 price: event id, market id, normalized participant id."""

    event_id: str
    market_id: int
    participant_id: int


@dataclass(frozen=True, slots=True)
class ParticipantRef:
    """What a participant of one market of one event is, learnt from REST.

    ``side`` is HOME/AWAY/DRAW or OVER/UNDER; None only for a player prop whose Over or
    Under is written in the line value rather than in the participant.
    """

    provider_event_id: str
    kind: MarketKind
    period: Period
    side: int | None
    player: str = ""
    stat: str = ""


#: The join table: `EventsPage.participants`, merged across pages by the driver.
ParticipantTable: TypeAlias = Mapping[ParticipantKey, ParticipantRef]


@dataclass(frozen=True, slots=True)
class EventsPage:
    """One ``/api/v2/sports/{id}/events/{date}`` (or ``/api/v2/events/{id}``) response.

    Attributes:
        events: the readable events.
        quotes: every price of the supported markets; NaN for off-board and closed ones.
        delta_cursor: ``meta.delta_last_id`` as text (numbers are written as integers),
            the ``last_id`` to start polling the market delta; None when absent.
        participants: join-table rows for every participant that has an id.
        unknown_affiliates: affiliate ids priced but missing from the affiliates map
            (retired ones excepted): refresh the map if this is not empty.
        skipped_events: events without an id, two teams, or a readable date.
        skipped_markets: markets outside `MARKETS` or with an unmapped period.
        skipped_outcomes: participants no side fits, and lines that are not numbers.
        skipped_prices: prices that are not valid odds, or have no time.
    """

    events: tuple[ProviderEvent, ...]
    quotes: tuple[ParsedQuote, ...]
    delta_cursor: str | None
    participants: dict[ParticipantKey, ParticipantRef]
    unknown_affiliates: frozenset[int] = frozenset()
    skipped_events: int = 0
    skipped_markets: int = 0
    skipped_outcomes: int = 0
    skipped_prices: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A keep-alive, every 15 s; ``now`` is the server's time (epoch s) when readable."""

    now: float | None


@dataclass(frozen=True, slots=True)
class PriceChange:
    """One ``market_price`` frame: one book's new price for one participant and line.

    ``quote`` is None when the frame cannot be placed; ``skip_reason`` says why.
    ``price_refused``: the price was no price at all ("+50", "abc"), so ``quote`` is the
    withdrawal of the book's last one, which no longer stands. ``record_id`` is the
    price-record id (``data.id``), for de-duplication; it is not a gap-free sequence.
    """

    quote: ParsedQuote | None
    event_id: str
    market_id: int
    participant_id: int
    affiliate_id: int
    record_id: int | None
    line: str
    skip_reason: SkipReason | None = None
    price_refused: bool = False

    @property
    def needs_refresh(self) -> bool:
        """Whether the event must be fetched over REST to learn this participant."""
        return self.skip_reason is SkipReason.UNKNOWN_PARTICIPANT


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A frame of a ``meta.type`` this module does not read: ignore it."""

    type: str


#: Everything `parse_ws_frame` returns.
RundownMessage: TypeAlias = Heartbeat | PriceChange | UnknownMessage


@dataclass(frozen=True, slots=True)
class DeltaPage:
    """One ``/api/v2/markets/delta`` response.

    Attributes:
        quotes: the changes that could be placed, in feed order.
        cursor: ``meta.delta_last_id``, the next ``last_id``; None when absent.
        has_more: poll again at once with ``cursor``.
        unknown_participants: keys missing from the join table: refresh those events.
        unknown_affiliates: affiliate ids missing from the affiliates map.
        skipped: entries that could not be read or placed (unknowns included).
        prices_refused: entries whose price was no price: in ``quotes`` as withdrawals.
    """

    quotes: tuple[ParsedQuote, ...]
    cursor: str | None
    has_more: bool
    unknown_participants: frozenset[ParticipantKey] = frozenset()
    unknown_affiliates: frozenset[int] = frozenset()
    skipped: int = 0
    prices_refused: int = 0


class V1Scope(NamedTuple):
    """What one V1 line frame replaces: one book's line of one market type and period."""

    event_id: str
    affiliate_id: int
    market: str
    period_id: int


@dataclass(frozen=True, slots=True)
class V1Update:
    """A V1 ``moneyline``, ``spread`` or ``total`` frame.

    Its quotes replace everything the book quoted before in ``scope``: withdraw the cells
    that are gone with `arbwatch.feeds.model.withdraw_missing`. ``skipped`` counts
    invalid prices and lines; ``unknown_event`` is true when the caller passed ``events``
    and this event is not among them (fetch it to learn its teams); ``skip_reason`` is
    set when the whole frame yields nothing (unknown affiliate, unmapped period).
    """

    scope: V1Scope
    quotes: tuple[ParsedQuote, ...]
    skipped: int = 0
    unknown_event: bool = False
    skip_reason: SkipReason | None = None


#: Everything `parse_v1_frame` returns.
V1Message: TypeAlias = Heartbeat | V1Update | UnknownMessage


# --- wire types ------------------------------------------------------------------------
# The WebSocket and delta records are typed: a wrong type there is a broken frame or entry.
# REST bootstrap leaves are Any and checked by hand, so one odd price skips that price.


class _Wire(msgspec.Struct, forbid_unknown_fields=False):
    """Base of the wire types: unknown fields are ignored, as the server may add some."""


class _NamedList(_Wire):
    sports: list[Any] | None = None
    affiliates: list[Any] | None = None


class _Team(_Wire):
    team_id: Any = None
    name: Any = None
    mascot: Any = None
    is_home: Any = None
    is_away: Any = None


class _Line(_Wire):
    value: Any = None
    prices: dict[str, Any] | None = None


class _Participant(_Wire):
    id: Any = None
    type: Any = None
    name: Any = None
    lines: list[_Line] | None = None


class _Market(_Wire):
    market_id: Any = None
    period_id: Any = None
    participants: list[_Participant] | None = None


class _Event(_Wire):
    event_id: Any = None
    sport_id: Any = None
    event_date: Any = None
    teams: list[_Team] | None = None
    markets: list[_Market] | None = None


class _EventsBody(_Wire):
    meta: Any = None
    # Raw per event: a malformed event is skipped and counted, the others still parse.
    events: list[msgspec.Raw] | None = None


class _Meta(_Wire):
    type: Any = None
    timestamp: Any = None


class _Frame(_Wire):
    meta: _Meta | None = None
    data: msgspec.Raw = msgspec.Raw()


class _Heartbeat(_Wire):
    now: Any = None


class _PriceRecord(_Wire):
    """A V2 WebSocket ``market_price`` data object, or one market-delta entry."""

    id: int | None = None
    event_id: str = ""
    affiliate_id: int | None = None
    market_id: int | None = None
    # The WebSocket names the participant normalized_market_participant_id, the delta
    # endpoint participant_id; both are the REST participant.id.
    normalized_market_participant_id: int | None = None
    participant_id: int | None = None
    line: str | float | None = None
    price: str | float | None = None
    change_type: str | None = None
    closed_at: str | None = None
    updated_at: str | None = None


class _DeltaBody(_Wire):
    meta: Any = None
    deltas: list[msgspec.Raw] | None = None


class _V1Data(_Wire):
    event_id: str = ""
    sport_id: int | None = None
    affiliate_id: int | None = None
    period_id: int | None = None
    date_updated: str | None = None
    moneyline_home: float | str | None = None
    moneyline_away: float | str | None = None
    moneyline_draw: float | str | None = None
    point_spread_home: float | str | None = None
    point_spread_away: float | str | None = None
    point_spread_home_money: float | str | None = None
    point_spread_away_money: float | str | None = None
    total_over: float | str | None = None
    total_under: float | str | None = None
    total_over_money: float | str | None = None
    total_under_money: float | str | None = None


_NAMED_LIST: Final = msgspec.json.Decoder(_NamedList)
_EVENTS_BODY: Final = msgspec.json.Decoder(_EventsBody)
_EVENT: Final = msgspec.json.Decoder(_Event)
_FRAME: Final = msgspec.json.Decoder(_Frame)
_HEARTBEAT: Final = msgspec.json.Decoder(_Heartbeat)
_PRICE_RECORD: Final = msgspec.json.Decoder(_PriceRecord)
_DELTA_BODY: Final = msgspec.json.Decoder(_DeltaBody)
_V1_DATA: Final = msgspec.json.Decoder(_V1Data)

_DECODE_ERRORS: Final = (msgspec.MsgspecError, RecursionError)


# --- values ----------------------------------------------------------------------------


def _int(value: object) -> int | None:
    """An integer id, or None (bools are not ids)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    """A JSON number or numeric text as a finite float, or None."""
    if isinstance(value, bool):
        return None
    try:
        if not isinstance(value, int | float | str):
            return None
        number = float(value)
    except (ValueError, OverflowError):  # not a number; an integer of hundreds of digits
        return None
    return number if math.isfinite(number) else None


def _american(value: object) -> float | None:
    """Decimal odds of an American price: NaN when off the board, None when invalid."""
    number = _number(value)
    if number is None:
        return None
    if number in (OFF_BOARD, 0.0):
        return math.nan
    try:
        decimal = american_to_decimal(number)
    except InvalidOddsError:
        return None
    # -1e20 converts to 1 + 1e-18, which is 1.0 in floating point: not a price.
    return decimal if math.isfinite(decimal) and decimal > 1.0 else None


def _line(value: object) -> float | None:
    """A spread or total line, or None when not a sane number or off the board."""
    number = _number(value)
    if number is None or number == OFF_BOARD or abs(number) > MAX_ABS_LINE:
        return None
    return normalize_line(number)


_PROP_LINE: Final = re.compile(r"\s*(over|under|o|u)?\s*([+-]?[0-9]*\.?[0-9]+)\s*", re.IGNORECASE)
_SIDE_WORD: Final = re.compile(r"\b(over|under)\b", re.IGNORECASE)
_OVER_UNDER: Final = {"over": OVER, "under": UNDER}
_SIDES: Final = {**_OVER_UNDER, "o": OVER, "u": UNDER}
_DRAW_NAMES: Final = frozenset({"draw", "tie"})
_NAME_JUNK: Final = " -:,/()[]"


def _prop_line(value: object) -> tuple[int | None, float | None]:
    """A prop line value: its Over/Under when written there ("Over 24.5"), and the number."""
    if isinstance(value, str):
        match = _PROP_LINE.fullmatch(value)
        if match is None:
            return None, None
        word = match.group(1)
        return (_SIDES[word.lower()] if word else None), _line(match.group(2))
    return None, _line(value)


def _prop_participant(name: str) -> tuple[int | None, str] | None:
    """Split a prop participant's name into its Over/Under (if written) and the player."""
    words = {word.lower() for word in _SIDE_WORD.findall(name)}
    if len(words) > 1:
        return None  # "Over" and "Under" both: ambiguous
    player = " ".join(_SIDE_WORD.sub(" ", name).strip(_NAME_JUNK).split()) if words else name
    player = player.strip(_NAME_JUNK)
    if not player:
        return None
    return (_SIDES[words.pop()] if words else None), player


def _epoch(value: object) -> float | None:
    """A ``meta.timestamp`` (epoch seconds) when it is a plausible time."""
    number = _real(value)
    return number if number is not None and 0.0 <= number <= _MAX_EPOCH else None


def _real(value: object) -> float | None:
    """A JSON number (not text) as a finite float, or None."""
    if isinstance(value, str):
        return None
    return _number(value)


def _cursor(meta: object) -> str | None:
    """``meta.delta_last_id`` as text, whether the server sent a string or a number."""
    if not isinstance(meta, dict):
        return None
    value = meta.get("delta_last_id")
    if isinstance(value, str):
        return value or None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # more digits than Python will print: not a cursor
            return None
    return None


# --- reference data --------------------------------------------------------------------


def parse_sports(body: object) -> dict[int, str]:
    """Read ``/api/v2/sports``: sport id -> sport name. Malformed entries are skipped."""
    decoded: _NamedList = decode_json(_NAMED_LIST, body, "TheRundown sports")
    return _named(decoded.sports, "sport_id", "sport_name")


def parse_affiliates(body: object) -> dict[int, str]:
    """Read ``/api/v2/affiliates``: affiliate id -> sportsbook name, retired ones dropped."""
    decoded: _NamedList = decode_json(_NAMED_LIST, body, "TheRundown affiliates")
    named = _named(decoded.affiliates, "affiliate_id", "affiliate_name")
    return {key: name for key, name in named.items() if key not in RETIRED_AFFILIATES}


def _named(entries: list[Any] | None, id_field: str, name_field: str) -> dict[int, str]:
    """Map ids to names over a list of objects; the first entry of an id wins."""
    result: dict[int, str] = {}
    for entry in entries or ():
        if not isinstance(entry, dict):
            continue
        key, name = _int(entry.get(id_field)), entry.get(name_field)
        if key is not None and isinstance(name, str) and name.strip():
            result.setdefault(key, name.strip())
    return result


# --- V2 REST events --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Teams:
    home: str
    away: str
    home_id: int | None
    away_id: int | None

    def side(self, participant_id: object, name: object) -> int | None:
        """HOME or AWAY for a team participant, by team id and then by full name."""
        if participant_id is not None:
            if participant_id == self.home_id:
                return HOME
            if participant_id == self.away_id:
                return AWAY
        if isinstance(name, str):
            folded = name.strip().casefold()
            if folded == self.home.casefold():
                return HOME
            if folded == self.away.casefold():
                return AWAY
        return None


@dataclass(slots=True)
class _Page:
    """What parsing one events page accumulates."""

    affiliates: Mapping[int, str]
    received_at: float | None
    draw_sports: frozenset[int]
    quotes: list[ParsedQuote] = field(default_factory=list)
    participants: dict[ParticipantKey, ParticipantRef] = field(default_factory=dict)
    unknown_affiliates: set[int] = field(default_factory=set)
    events: int = 0
    markets: int = 0
    outcomes: int = 0
    prices: int = 0


def parse_events(
    body: object,
    *,
    affiliates: Mapping[int, str],
    sports: Mapping[int, str],
    provider: str = PROVIDER,
    received_at: float | None = None,
    draw_sports: frozenset[int] = DRAW_SPORTS,
) -> EventsPage:
    """Read a V2 events response into events, quotes, the delta cursor and the join table.

    ``affiliates`` names the books (`parse_affiliates`); prices of other affiliates are
    skipped and reported in `EventsPage.unknown_affiliates`. ``sports`` names the sports
    (`parse_sports`); an unknown id is written as its number. ``received_at`` is the quote
    time of a price without a readable ``updated_at``. ``draw_sports`` are the sport ids
    whose moneyline has a draw.
    """
    decoded: _EventsBody = decode_json(_EVENTS_BODY, body, "TheRundown events")
    page = _Page(affiliates=affiliates, received_at=received_at, draw_sports=draw_sports)
    events: dict[str, ProviderEvent] = {}
    for raw in decoded.events or ():
        try:
            event = _EVENT.decode(raw)
        except _DECODE_ERRORS:
            page.events += 1
            continue
        parsed = _event(event, sports, provider)
        if parsed is None:
            page.events += 1
            continue
        provider_event, teams = parsed
        events.setdefault(provider_event.provider_event_id, provider_event)
        sport_id = _int(event.sport_id)
        for market in event.markets or ():
            _market(page, provider_event.provider_event_id, sport_id, teams, market)
    return EventsPage(
        events=tuple(events.values()),
        quotes=tuple(page.quotes),
        delta_cursor=_cursor(decoded.meta),
        participants=page.participants,
        unknown_affiliates=frozenset(page.unknown_affiliates),
        skipped_events=page.events,
        skipped_markets=page.markets,
        skipped_outcomes=page.outcomes,
        skipped_prices=page.prices,
    )


def _event(
    event: _Event, sports: Mapping[int, str], provider: str
) -> tuple[ProviderEvent, _Teams] | None:
    """The event and its teams, or None without an id, two teams or a date."""
    if not isinstance(event.event_id, str) or not event.event_id:
        return None
    teams = _teams(event.teams or [])
    starts_at = parse_utc_timestamp(event.event_date)
    if teams is None or starts_at is None:
        return None
    sport_id = _int(event.sport_id)
    sport = "" if sport_id is None else sports.get(sport_id, str(sport_id))
    return (
        ProviderEvent(
            provider=provider,
            provider_event_id=event.event_id,
            sport=sport,
            home=teams.home,
            away=teams.away,
            starts_at=starts_at,
        ),
        teams,
    )


def _teams(teams: list[_Team]) -> _Teams | None:
    """Home and away from ``teams[]``: by the is_home/is_away flags, else by position."""
    homes = [team for team in teams if team.is_home is True]
    aways = [team for team in teams if team.is_away is True]
    if len(homes) == 1 and len(aways) == 1 and homes[0] is not aways[0]:
        home, away = homes[0], aways[0]
    elif len(teams) == 2 and all(t.is_home is None and t.is_away is None for t in teams):
        away, home = teams  # the docs: index 0 is away, index 1 is home
    else:
        return None
    home_name, away_name = _team_name(home), _team_name(away)
    home_id, away_id = _int(home.team_id), _int(away.team_id)
    if not home_name or not away_name or home_name.casefold() == away_name.casefold():
        return None
    if home_id is not None and home_id == away_id:
        return None
    return _Teams(home_name, away_name, home_id, away_id)


def _team_name(team: _Team) -> str:
    """The full name, city and mascot: "Boston" + "Celtics" -> "Boston Celtics"."""
    parts = (team.name, team.mascot)
    return " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())


def _market(
    page: _Page, event_id: str, sport_id: int | None, teams: _Teams, market: _Market
) -> None:
    """Add one market's quotes and join-table rows to ``page``."""
    market_id = _int(market.market_id)
    spec = None if market_id is None else MARKETS.get(market_id)
    period_id = 0 if market.period_id is None else _int(market.period_id)
    period = None if period_id is None else period_for(period_id, sport_id)
    if market_id is None or spec is None or period is None:
        page.markets += 1
        return
    participants = market.participants or []
    placed: list[tuple[_Participant, int | None, str]] = []
    for participant in participants:
        resolved = _participant(spec.kind, participant, teams)
        if resolved is None:
            page.outcomes += 1
        else:
            placed.append((participant, *resolved))
    kind = spec.kind
    has_draw = sport_id in page.draw_sports or any(side == DRAW for _, side, _ in placed)
    if kind is MarketKind.MONEYLINE and has_draw:
        kind = MarketKind.MONEYLINE_3WAY
    for participant, side, player in placed:
        ref = ParticipantRef(event_id, kind, period, side, player, spec.stat)
        participant_id = _int(participant.id)
        if participant_id is not None:
            # First wins: a market id names one period, so a repeat is the same participant.
            page.participants.setdefault(ParticipantKey(event_id, market_id, participant_id), ref)
        for line in participant.lines or ():
            _line_quotes(page, ref, line)


def _participant(
    kind: MarketKind, participant: _Participant, teams: _Teams
) -> tuple[int | None, str] | None:
    """A participant's side (None: written in the line) and player, or None if unplaced."""
    name = participant.name
    if kind is MarketKind.TOTAL:
        side = _OVER_UNDER.get(name.strip().casefold()) if isinstance(name, str) else None
        return None if side is None else (side, "")
    if kind is MarketKind.PLAYER_PROP:
        return _prop_participant(name) if isinstance(name, str) else None
    side = teams.side(_int(participant.id), name)
    if side is not None:
        return side, ""
    is_draw = isinstance(name, str) and name.strip().casefold() in _DRAW_NAMES
    return (DRAW, "") if kind is MarketKind.MONEYLINE and is_draw else None


def _line_quotes(page: _Page, ref: ParticipantRef, line: _Line) -> None:
    """Add the quotes of one line of one participant to ``page``."""
    placed = _place(ref, line.value)
    if isinstance(placed, SkipReason):
        page.outcomes += 1
        return
    for affiliate_key, price in (line.prices or {}).items():
        affiliate_id = _affiliate_id(affiliate_key)
        book = None if affiliate_id is None else page.affiliates.get(affiliate_id)
        if book is None:
            if affiliate_id is not None and affiliate_id not in RETIRED_AFFILIATES:
                page.unknown_affiliates.add(affiliate_id)
            continue
        quote = _rest_quote(ref, placed, book, price, page.received_at)
        if quote is None:
            page.prices += 1
        else:
            page.quotes.append(quote)


def _affiliate_id(key: str) -> int | None:
    """A ``prices`` key as an affiliate id; int() alone would also take " 3" or "٣"."""
    return int(key) if key.isascii() and key.isdigit() and len(key) < 10 else None


def _rest_quote(
    ref: ParticipantRef,
    placed: tuple[int, float],
    book: str,
    price: object,
    received_at: float | None,
) -> ParsedQuote | None:
    """One REST price object as a quote, or None when its price or time is unreadable."""
    if not isinstance(price, dict):
        return None
    closed = price.get("closed_at") not in (None, "")
    decimal = math.nan if closed else _american(price.get("price"))
    quoted_at = parse_utc_timestamp(price.get("updated_at"))
    if quoted_at is None:
        quoted_at = received_at
    if decimal is None or quoted_at is None:
        return None
    return _quote(ref, placed, book=book, price=decimal, quoted_at=quoted_at)


def _quote(
    ref: ParticipantRef, placed: tuple[int, float], *, book: str, price: float, quoted_at: float
) -> ParsedQuote:
    """The quote of a placed participant line."""
    side, line = placed
    return ParsedQuote(
        provider_event_id=ref.provider_event_id,
        kind=ref.kind,
        period=ref.period,
        side=side,
        line=line,
        book=book,
        price=price,
        quoted_at=quoted_at,
        player=ref.player,
        stat=ref.stat,
    )


def _place(ref: ParticipantRef, value: object) -> tuple[int, float] | SkipReason:
    """The side and line of a participant's line value, or why it has none."""
    if ref.kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
        # The value is "", "0" or the participant's name: a moneyline has no line.
        return (ref.side, 0.0) if ref.side is not None else SkipReason.INVALID_LINE
    if ref.kind is MarketKind.PLAYER_PROP:
        written, number = _prop_line(value)
        side = ref.side if ref.side is not None else written
        if side is None or number is None or (written is not None and written != side):
            return SkipReason.INVALID_LINE
        return side, number
    number = _line(value)
    if ref.side is None or number is None:
        return SkipReason.INVALID_LINE
    return ref.side, number


# --- V2 WebSocket and market delta -----------------------------------------------------


def parse_ws_frame(
    frame: bytes | str,
    *,
    participants: ParticipantTable,
    affiliates: Mapping[int, str],
    received_at: float | None = None,
) -> RundownMessage:
    """Read one frame of the V2 markets WebSocket (``/api/v2/ws/markets``).

    A ``market_price`` frame becomes a `PriceChange`, placed through the join table
    ``participants``; ``heartbeat`` a `Heartbeat`; any other ``meta.type`` an
    `UnknownMessage`. ``received_at`` is the quote time when the frame has neither
    ``data.updated_at`` nor ``meta.timestamp``.
    """
    envelope: _Frame = decode_json(_FRAME, frame, "TheRundown frame")
    meta = envelope.meta
    if meta is None or not isinstance(meta.type, str):
        raise ParseError("a TheRundown frame needs a string meta.type")
    if meta.type == "heartbeat":
        return _heartbeat(envelope)
    if meta.type != "market_price":
        return UnknownMessage(meta.type)
    record: _PriceRecord = decode_json(_PRICE_RECORD, _data(envelope), "market_price data")
    participant_id = record.normalized_market_participant_id
    if participant_id is None:
        participant_id = record.participant_id
    event_id, market_id, affiliate_id = record.event_id, record.market_id, record.affiliate_id
    if not event_id or market_id is None or affiliate_id is None or participant_id is None:
        raise ParseError("market_price needs event_id, market_id, affiliate_id, participant")
    quoted_at = parse_utc_timestamp(record.updated_at)
    if quoted_at is None:
        quoted_at = _epoch(meta.timestamp)
    if quoted_at is None:
        quoted_at = received_at
    if quoted_at is None:
        raise ParseError("market_price without a readable time")
    key = ParticipantKey(event_id, market_id, participant_id)
    placed = _record_quote(record, key, participants, affiliates, quoted_at)
    refused = isinstance(placed, RefusedPrice)
    if isinstance(placed, RefusedPrice):
        placed = placed.withdrawal
    return PriceChange(
        quote=placed if isinstance(placed, ParsedQuote) else None,
        event_id=event_id,
        market_id=market_id,
        participant_id=participant_id,
        affiliate_id=affiliate_id,
        record_id=record.id,
        line=_line_text(record.line),
        skip_reason=placed if isinstance(placed, SkipReason) else None,
        price_refused=refused,
    )


def parse_market_delta(
    body: object,
    *,
    participants: ParticipantTable,
    affiliates: Mapping[int, str],
    received_at: float | None = None,
) -> DeltaPage:
    """Read a ``/api/v2/markets/delta`` response, placing each change via the join table.

    Entries that cannot be read or placed are skipped and counted; unknown participants
    and affiliates are reported so the driver can refresh. ``received_at`` is the quote
    time of an entry without a readable ``updated_at``.
    """
    decoded: _DeltaBody = decode_json(_DELTA_BODY, body, "TheRundown market delta")
    quotes: list[ParsedQuote] = []
    unknown_participants: set[ParticipantKey] = set()
    unknown_affiliates: set[int] = set()
    skipped = refused = 0
    for raw in decoded.deltas or ():
        placed = _delta_entry(raw, participants, affiliates, received_at)
        if isinstance(placed, RefusedPrice):
            refused += 1
            placed = placed.withdrawal
        if isinstance(placed, ParsedQuote):
            quotes.append(placed)
            continue
        skipped += 1
        if isinstance(placed, ParticipantKey):
            unknown_participants.add(placed)
        elif isinstance(placed, int):
            unknown_affiliates.add(placed)
    meta = decoded.meta if isinstance(decoded.meta, dict) else {}
    return DeltaPage(
        quotes=tuple(quotes),
        cursor=_cursor(meta),
        has_more=meta.get("has_more") is True,
        unknown_participants=frozenset(unknown_participants),
        unknown_affiliates=frozenset(unknown_affiliates),
        skipped=skipped,
        prices_refused=refused,
    )


def _delta_entry(
    raw: msgspec.Raw,
    participants: ParticipantTable,
    affiliates: Mapping[int, str],
    received_at: float | None,
) -> ParsedQuote | RefusedPrice | ParticipantKey | int | None:
    """One delta entry: its quote (or refused price), else the unknown key or affiliate id."""
    try:
        record = _PRICE_RECORD.decode(raw)
    except _DECODE_ERRORS:
        return None
    participant_id = record.participant_id
    if participant_id is None:
        participant_id = record.normalized_market_participant_id
    if not record.event_id or record.market_id is None or participant_id is None:
        return None
    quoted_at = parse_utc_timestamp(record.updated_at)
    if quoted_at is None:
        quoted_at = received_at
    if quoted_at is None:
        return None
    key = ParticipantKey(record.event_id, record.market_id, participant_id)
    placed = _record_quote(record, key, participants, affiliates, quoted_at)
    if placed is SkipReason.UNKNOWN_PARTICIPANT:
        return key
    if placed is SkipReason.UNKNOWN_AFFILIATE and record.affiliate_id is not None:
        return None if record.affiliate_id in RETIRED_AFFILIATES else record.affiliate_id
    return placed if isinstance(placed, ParsedQuote | RefusedPrice) else None


_CLOSING: Final = frozenset({"close", "closed"})


class RefusedPrice(NamedTuple):
    """A record placed, whose price is no price: ``withdrawal`` takes the book's last one off."""

    withdrawal: ParsedQuote


def _record_quote(
    record: _PriceRecord,
    key: ParticipantKey,
    participants: ParticipantTable,
    affiliates: Mapping[int, str],
    quoted_at: float,
) -> ParsedQuote | RefusedPrice | SkipReason:
    """Place one WebSocket or delta price record, or say why it cannot be placed.

    A price that is neither American odds nor an off-board marker ("+50", "abc",
    "1e400") is refused: the book's last price for that cell no longer stands either,
    so it is withdrawn rather than left on the board.
    """
    if key.market_id not in MARKETS:
        return SkipReason.UNSUPPORTED_MARKET
    book = None if record.affiliate_id is None else affiliates.get(record.affiliate_id)
    if book is None:
        return SkipReason.UNKNOWN_AFFILIATE
    ref = participants.get(key)
    if ref is None:
        return SkipReason.UNKNOWN_PARTICIPANT
    placed = _place(ref, record.line)
    if isinstance(placed, SkipReason):
        return placed
    closed = record.closed_at not in (None, "") or record.change_type in _CLOSING
    price = math.nan if closed else _american(record.price)
    if price is None:
        return RefusedPrice(_quote(ref, placed, book=book, price=math.nan, quoted_at=quoted_at))
    return _quote(ref, placed, book=book, price=price, quoted_at=quoted_at)


def _data(envelope: _Frame) -> msgspec.Raw:
    """A frame's ``data``, which must be present."""
    if not envelope.data or bytes(envelope.data) == b"null":
        raise ParseError("a TheRundown frame of this type needs data")
    return envelope.data


def _heartbeat(envelope: _Frame) -> Heartbeat:
    """A heartbeat; its time is ``data.now``, else ``meta.timestamp``, else unknown."""
    now = None
    if envelope.data:
        try:
            now = parse_utc_timestamp(_HEARTBEAT.decode(envelope.data).now)
        except _DECODE_ERRORS:
            now = None  # a heartbeat is a heartbeat even when its data is odd
    if now is None and envelope.meta is not None:
        now = _epoch(envelope.meta.timestamp)
    return Heartbeat(now)


def _line_text(value: str | float | None) -> str:
    """The frame's line as text, for logs: "" for a moneyline."""
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value)


# --- V1 WebSocket ----------------------------------------------------------------------


def parse_v1_frame(
    frame: bytes | str,
    *,
    affiliates: Mapping[int, str],
    events: Mapping[str, ProviderEvent] | None = None,
    draw_sports: frozenset[int] = DRAW_SPORTS,
    received_at: float | None = None,
) -> V1Message:
    """Read one frame of the legacy V1 WebSocket (``/api/v1/ws``).

    ``moneyline``, ``spread`` and ``total`` frames become a `V1Update`, ``heartbeat`` a
    `Heartbeat`, anything else (``score``, the V2 ``market_price`` this socket also
    carries) an `UnknownMessage`. ``events`` are the events known so far, to flag an
    unknown one; ``draw_sports`` are the sport ids whose moneyline has a draw.
    """
    envelope: _Frame = decode_json(_FRAME, frame, "TheRundown V1 frame")
    meta = envelope.meta
    if meta is None or not isinstance(meta.type, str):
        raise ParseError("a TheRundown frame needs a string meta.type")
    market = meta.type
    if market == "heartbeat":
        return _heartbeat(envelope)
    if market not in ("moneyline", "spread", "total"):
        return UnknownMessage(market)
    data: _V1Data = decode_json(_V1_DATA, _data(envelope), f"V1 {market} data")
    if not data.event_id or data.affiliate_id is None:
        raise ParseError(f"a V1 {market} frame needs event_id and affiliate_id")
    period_id = 0 if data.period_id is None else data.period_id
    scope = V1Scope(data.event_id, data.affiliate_id, market, period_id)
    unknown_event = events is not None and data.event_id not in events
    book = affiliates.get(data.affiliate_id)
    if book is None:
        return V1Update(scope, (), 0, unknown_event, SkipReason.UNKNOWN_AFFILIATE)
    period = period_for(period_id, data.sport_id)
    if period is None:
        return V1Update(scope, (), 0, unknown_event, SkipReason.UNSUPPORTED_PERIOD)
    quoted_at = parse_utc_timestamp(data.date_updated)
    if quoted_at is None:
        quoted_at = _epoch(meta.timestamp)
    if quoted_at is None:
        quoted_at = received_at
    if quoted_at is None:
        raise ParseError(f"a V1 {market} frame without a readable time")
    builder = _V1Builder(data.event_id, period, book, quoted_at)
    if market == "moneyline":
        builder.moneyline(data, draw_sports)
    elif market == "spread":
        builder.lined(MarketKind.SPREAD, HOME, data.point_spread_home, data.point_spread_home_money)
        builder.lined(MarketKind.SPREAD, AWAY, data.point_spread_away, data.point_spread_away_money)
    else:
        builder.lined(MarketKind.TOTAL, OVER, data.total_over, data.total_over_money)
        builder.lined(MarketKind.TOTAL, UNDER, data.total_under, data.total_under_money)
    return V1Update(scope, tuple(builder.quotes), builder.skipped, unknown_event)


@dataclass(slots=True)
class _V1Builder:
    """Collects the quotes of one V1 frame."""

    event_id: str
    period: Period
    book: str
    quoted_at: float
    quotes: list[ParsedQuote] = field(default_factory=list)
    skipped: int = 0

    def add(self, kind: MarketKind, side: int, line: float, raw_price: object) -> None:
        """Add a quote, or count it when its price is invalid; an absent price adds none."""
        if raw_price is None:
            return
        price = _american(raw_price)
        if price is None:
            self.skipped += 1
            return
        self.quotes.append(
            ParsedQuote(
                provider_event_id=self.event_id,
                kind=kind,
                period=self.period,
                side=side,
                line=line,
                book=self.book,
                price=price,
                quoted_at=self.quoted_at,
            )
        )

    def moneyline(self, data: _V1Data, draw_sports: frozenset[int]) -> None:
        """Home, away and, in a 3-way market, the draw (see the module docstring)."""
        draw = None if data.moneyline_draw is None else _american(data.moneyline_draw)
        real_draw = draw is not None and not math.isnan(draw)
        three_way = data.sport_id in draw_sports or real_draw
        kind = MarketKind.MONEYLINE_3WAY if three_way else MarketKind.MONEYLINE
        self.add(kind, HOME, 0.0, data.moneyline_home)
        self.add(kind, AWAY, 0.0, data.moneyline_away)
        if three_way:
            self.add(kind, DRAW, 0.0, data.moneyline_draw)

    def lined(self, kind: MarketKind, side: int, raw_line: object, raw_price: object) -> None:
        """A spread or total side: no quote for an absent or off-board line."""
        if raw_line is None or _number(raw_line) == OFF_BOARD:
            # Off the board with no line to name a cell: the driver's scope replacement
            # withdraws whatever this book quoted before.
            if raw_price is not None and raw_line is None:
                self.skipped += 1
            return
        line = _line(raw_line)
        if line is None:
            self.skipped += 1
            return
        self.add(kind, side, line, raw_price)
