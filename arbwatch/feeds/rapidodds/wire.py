"""RapidOddsAPI: parsers of the odds WebSocket and the REST odds snapshot (sans-I/O).

Nothing here touches a socket or a clock: a driver feeds frames in and gets typed values
out. The parsing API is:

- `parse_message` reads one WebSocket frame into a `RapidMessage` (`Connected`,
  `Subscribed`, `Unsubscribed`, `OddsUpdate`, `ErrorEvent`, or `UnknownEvent` for events
  this module does not know, so that a new server event never breaks the feed).
- `parse_snapshot` reads the REST odds response (``GET /sports/{sport}/markets``) into a
  `Snapshot`; the ``data`` of an ``odds_update`` push has exactly this shape. It is two
  steps, for a session that compares pushes (`arbwatch.feeds.rapidodds.session`):
  `split_snapshot` cuts the body into games with each bookmaker's raw JSON (a book-game),
  and `read_book` reads one book-game into quotes.
- `snapshot_withdrawals` turns two consecutive full snapshots into withdrawals: a push is
  a full snapshot of a sport's subscribed scope, so a cell quoted before and missing now
  was taken off the board. `withdraw_missing` is the same rule for any scope.
- `credits_per_push` is the documented cost formula, to check the server's figure.

Every frame that cannot be read raises `ParseError` (never a msgspec, Key, Value or
Overflow error). Inside a readable snapshot, bad parts are skipped and counted rather
than failing the whole push: a game without teams or start time (``skipped_games``), a
market key this module does not map (``skipped_markets``), an outcome whose name matches
no side or whose ``point`` is missing or absurd (``skipped_outcomes``), and a price that is
not a number > 1.0 (``skipped_prices``). Prices are decimal odds > 1.0; lines are finite,
at most `MAX_ABS_LINE` in size and rounded with `normalize_line`.

Choices where the provider documents nothing (see providers.md §2):

- **Event id.** Games carry no id, so ``provider_event_id`` is derived: the first 16 hex
  digits of BLAKE2b over sport, home team, away team and the start time in whole epoch
  seconds. The sport is the body's ``sport`` (a display name), the same string in REST and
  WebSocket, so both give one id per game. Books can report slightly different start times
  for one game; two ids for one game are merged by `arbwatch.feeds.identity`, which
  matches events on teams and a time window.
- **Timestamps** are naive UTC ("2026-07-23T09:30:00", fractional seconds optional) and read
  as UTC; an explicit offset or "Z" is honoured too. A bookmaker's ``last_update`` is the
  quote time; without one, the push ``timestamp`` (or the caller's ``received_at``) is.
- **Market keys.** ``head_to_head`` is the 2-way moneyline and ``head_to_head_3_way`` the
  3-way one ("Draw" or "Tie" is the draw). A ``head_to_head`` that has a draw outcome is
  read as 3-way: as a 2-way market its home and away prices would fake an arbitrage
  (a soccer game without its draw). ``alternate_lines`` is the spread (the outcome
  name is the team and ``point`` that team's own handicap); ``alternate_total_points``,
  ``_goals`` and ``_runs`` are the game total. Other totals (corners, cards, team totals)
  are different bets and are skipped. Keys starting ``player_``, ``batter_`` or
  ``pitcher_`` are player props on "Over"/"Under" with ``player_name`` and ``point``; the
  statistic is the key without ``player_`` ("player_points" -> "points"), while
  ``batter_`` and ``pitcher_`` stay in it because "pitcher_strikeouts" and
  "batter_strikeouts" are different bets. ``*_milestones`` ladders ("25+") are skipped:
  their ``point`` is a threshold, not an over/under line. A period suffix
  (``_1st_half``, ``_1st_5_innings``, ``_1st_period``, ``_1st_set``, ...) sets the period.
- **Names.** Outcome names are matched to the teams exactly, then ignoring case and outer
  spaces; for spreads ``team_name`` is tried when ``name`` matches no team.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Set
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeAlias, TypeVar

import msgspec

from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, UNDER, MarketKind, Period, normalize_line
from arbwatch.feeds.decoding import MAX_ABS_LINE, decode_json, parse_utc_timestamp
from arbwatch.feeds.model import (
    CellKey,
    ParsedQuote,
    ParseError,
    ProviderEvent,
    withdraw_missing,
)

#: The provider name put on `ProviderEvent`s unless the caller passes another.
PROVIDER: Final = "rapidoddsapi"

#: RapidOddsAPI bills a request or push per market type and per started group of 5 books.
BOOKS_PER_CREDIT: Final = 5

_T = TypeVar("_T")

# --- public values ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One full odds snapshot of a sport: the REST response or an ``odds_update`` push.

    Attributes:
        sport: the body's ``sport`` (a display name such as "NBA").
        events: one `ProviderEvent` per game, in the order the games came.
        quotes: every readable price, decimal > 1.0.
        skipped_games: games without two distinct team names or a readable start time.
        skipped_markets: markets with a key this module does not map, or under a book
            with no name or quote time.
        skipped_outcomes: outcomes whose name matches no side, or whose ``point`` or
            ``player_name`` is missing or unreadable.
        skipped_prices: outcomes whose price is not a finite number > 1.0.
    """

    sport: str
    events: tuple[ProviderEvent, ...]
    quotes: tuple[ParsedQuote, ...]
    skipped_games: int = 0
    skipped_markets: int = 0
    skipped_outcomes: int = 0
    skipped_prices: int = 0


@dataclass(frozen=True, slots=True)
class Connected:
    """The server's greeting after the handshake: ``{"event":"connected",...}``."""

    tier: str
    message: str


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The server confirmed a subscription to one sport.

    ``credits_per_push`` is what each push will cost, or None when the server left it
    out; compare it with `credits_per_push` of the request.
    """

    sport: str
    bookmakers: tuple[str, ...]
    market_types: tuple[str, ...]
    credits_per_push: int | None


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """The server confirmed the end of a sport's subscription."""

    sport: str


@dataclass(frozen=True, slots=True)
class OddsUpdate:
    """A push: the full snapshot of one sport's subscribed scope.

    ``timestamp`` is when the server made the push (epoch seconds UTC); use it as ``at``
    for `snapshot_withdrawals`. ``credits_charged`` is None when the server left it out.
    ``parts`` is the snapshot cut into book-games and not read further: a session reads
    only the ones that changed; `snapshot` reads them all.
    """

    sport: str
    timestamp: float
    credits_charged: int | None
    parts: SnapshotParts

    @property
    def snapshot(self) -> Snapshot:
        """Every book-game read, each book without a time quoted at ``timestamp``."""
        return read_snapshot(self.parts, received_at=self.timestamp)


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """An ``error`` event.

    ``insufficient_credits`` is true when the message mentions credits: the server skipped
    the push, and the official SDK treats it as fatal (the credits will not come back by
    retrying). ``credits_remaining`` is N from "you have N remaining", when present.
    """

    message: str
    insufficient_credits: bool
    credits_remaining: int | None = None


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event this module does not know (``results_update``, a future one): ignore it."""

    event: str


#: Everything `parse_message` returns.
RapidMessage: TypeAlias = (
    Connected | Subscribed | Unsubscribed | OddsUpdate | ErrorEvent | UnknownEvent
)


def snapshot_withdrawals(
    previous: Set[CellKey], snapshot: Snapshot, *, at: float
) -> tuple[tuple[ParsedQuote, ...], frozenset[CellKey]]:
    """Withdraw what the previous push of a sport quoted and this one does not.

    A push is a full snapshot of the sport's subscribed scope, so a missing cell was taken
    off the board: the game started, the book pulled the line, or the price turned
    unreadable. Keep the returned cell set per sport and pass it back with the next push;
    ``at`` is the push's `OddsUpdate.timestamp` (or the REST response time).
    """
    return withdraw_missing(previous, snapshot.quotes, at=at)


def credits_per_push(market_types: int, bookmakers: int) -> int:
    """What a request or push costs: ``market_types * ceil(bookmakers / 5)``.

    1 type with 5 books costs 1 credit, with 6 books 2; 3 types with 15 books cost 9.
    """
    if market_types < 0 or bookmakers < 0:
        raise ValueError("market types and bookmakers are counts, never negative")
    return market_types * -(-bookmakers // BOOKS_PER_CREDIT)


# --- wire types ------------------------------------------------------------------------
# Leaves are typed Any and checked by hand: a wrong type in one outcome must skip that
# outcome, not fail the push. Containers are typed, so msgspec checks the structure in C.


class _Wire(msgspec.Struct, forbid_unknown_fields=False):
    """Base of the wire types: unknown fields are ignored, as the server may add some."""


class _Envelope(_Wire):
    event: Any = None
    tier: Any = None
    message: Any = None
    sport: Any = None
    bookmakers: Any = None
    market_types: Any = None
    credits_per_push: Any = None
    timestamp: Any = None
    credits_charged: Any = None
    # Kept raw: decoded only for odds_update, by the snapshot decoder.
    data: msgspec.Raw = msgspec.Raw()


class _Outcome(_Wire):
    name: Any = None
    price: Any = None
    point: Any = None
    player_name: Any = None
    team_name: Any = None


class _Market(_Wire):
    key: Any = None
    outcomes: list[_Outcome] | None = None


class _Bookmaker(_Wire):
    name: Any = None
    last_update: Any = None
    markets: list[_Market] | None = None


class _Game(_Wire):
    commence_time: Any = None
    home_team: Any = None
    away_team: Any = None
    game_url: Any = None


class _GameEntry(_Wire):
    game: _Game | None = None
    # Raw per bookmaker: a book-game is the unit two pushes are compared by
    # (`split_snapshot`), and an unchanged one is never decoded further.
    bookmakers: list[msgspec.Raw] | None = None


class _Body(_Wire):
    sport: Any = None
    # Raw per game: a malformed game is skipped and counted, the others still parse.
    games: list[msgspec.Raw] | None = None


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_BODY: Final = msgspec.json.Decoder(_Body)
_GAME: Final = msgspec.json.Decoder(_GameEntry)
_BOOK: Final = msgspec.json.Decoder(_Bookmaker)


# --- messages --------------------------------------------------------------------------

_REMAINING: Final = re.compile(r"you have (\d{1,18}) remaining", re.IGNORECASE)


def parse_message(
    frame: bytes | str, *, provider: str = PROVIDER, received_at: float | None = None
) -> RapidMessage:
    """Read one frame of the odds WebSocket (``wss://api.rapidoddsapi.com/ws``).

    ``received_at`` (epoch seconds) stands in for a push without a readable
    ``timestamp``; without either, the push is a `ParseError`. Metadata of the wrong type
    (a non-integer ``credits_per_push``) reads as absent rather than failing the frame.
    """
    envelope: _Envelope = decode_json(_ENVELOPE, frame, "RapidOddsAPI frame")
    event = envelope.event
    if not isinstance(event, str):
        raise ParseError("a RapidOddsAPI frame needs a string 'event'")
    if event == "odds_update":
        return _odds_update(envelope, provider, received_at)
    if event == "connected":
        return Connected(tier=_text(envelope.tier), message=_text(envelope.message))
    if event == "subscribed":
        return Subscribed(
            sport=_text(envelope.sport),
            bookmakers=_texts(envelope.bookmakers),
            market_types=_texts(envelope.market_types),
            credits_per_push=_count(envelope.credits_per_push),
        )
    if event == "unsubscribed":
        return Unsubscribed(sport=_text(envelope.sport))
    if event == "error":
        return _error(envelope.message)
    return UnknownEvent(event)


def _odds_update(envelope: _Envelope, provider: str, received_at: float | None) -> OddsUpdate:
    """Read an ``odds_update`` push; its ``data`` is a REST odds response."""
    timestamp = parse_utc_timestamp(envelope.timestamp)
    if timestamp is None:
        timestamp = received_at
    if timestamp is None:
        raise ParseError("odds_update without a readable timestamp")
    if not envelope.data or bytes(envelope.data) == b"null":
        raise ParseError("odds_update without data")
    parts = split_snapshot(envelope.data, provider=provider, sport=_text(envelope.sport))
    return OddsUpdate(
        sport=_text(envelope.sport) or parts.sport,
        timestamp=timestamp,
        credits_charged=_count(envelope.credits_charged),
        parts=parts,
    )


def _error(message: object) -> ErrorEvent:
    """Read an ``error`` event; a non-text message is kept as its JSON."""
    if not isinstance(message, str):
        message = "" if message is None else msgspec.json.encode(message).decode()
    remaining = _REMAINING.search(message)
    return ErrorEvent(
        message=message,
        insufficient_credits="credit" in message.lower(),
        credits_remaining=int(remaining.group(1)) if remaining else None,
    )


def _text(value: object) -> str:
    """A text field, or "" when absent or not text."""
    return value if isinstance(value, str) else ""


def _texts(value: object) -> tuple[str, ...]:
    """A list of text, keeping only its text items."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _count(value: object) -> int | None:
    """A non-negative integer field, or None when absent or not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


# --- snapshots -------------------------------------------------------------------------


class _MarketSpec(NamedTuple):
    kind: MarketKind
    period: Period
    stat: str = ""


_BASE_KINDS: Final = {
    "head_to_head": MarketKind.MONEYLINE,
    "head_to_head_3_way": MarketKind.MONEYLINE_3WAY,
    "alternate_lines": MarketKind.SPREAD,
    "alternate_total_points": MarketKind.TOTAL,
    "alternate_total_goals": MarketKind.TOTAL,
    "alternate_total_runs": MarketKind.TOTAL,
}
_PERIOD_SUFFIXES: Final = (
    ("_1st_5_innings", Period.FIRST_FIVE_INNINGS),
    ("_1st_half", Period.FIRST_HALF),
    ("_2nd_half", Period.SECOND_HALF),
    ("_1st_quarter", Period.FIRST_QUARTER),
    ("_2nd_quarter", Period.SECOND_QUARTER),
    ("_3rd_quarter", Period.THIRD_QUARTER),
    ("_4th_quarter", Period.FOURTH_QUARTER),
    ("_1st_period", Period.FIRST_PERIOD),
    ("_2nd_period", Period.SECOND_PERIOD),
    ("_3rd_period", Period.THIRD_PERIOD),
    ("_1st_set", Period.FIRST_SET),
    ("_2nd_set", Period.SECOND_SET),
)
_PROP_PREFIXES: Final = ("player_", "batter_", "pitcher_")
_DRAW_NAMES: Final = frozenset({"draw", "tie"})
_OVER_UNDER: Final = {"over": OVER, "under": UNDER}


@functools.lru_cache(maxsize=1024)  # a few dozen keys per feed; bounded against junk keys
def _market_spec(key: str) -> _MarketSpec | None:
    """What a market key means, or None for a key this module does not map."""
    base, period = key, Period.FULL_GAME
    for suffix, suffix_period in _PERIOD_SUFFIXES:
        if key.endswith(suffix):
            base, period = key.removesuffix(suffix), suffix_period
            break
    kind = _BASE_KINDS.get(base)
    if kind is not None:
        return _MarketSpec(kind, period)
    if base.startswith(_PROP_PREFIXES) and not base.endswith("_milestones"):
        stat = base.removeprefix("player_")
        if stat:
            return _MarketSpec(MarketKind.PLAYER_PROP, period, stat)
    return None


def provider_event_id(sport: str, home: str, away: str, starts_at: float) -> str:
    """The id this module gives a game: a hash of sport, teams and start second.

    RapidOddsAPI games have no id. The unit separator cannot occur in a name, so two
    different games never share the hashed text.
    """
    text = "\x1f".join((sport, home, away, str(math.floor(starts_at))))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(slots=True)
class _Counts:
    games: int = 0
    markets: int = 0
    outcomes: int = 0
    prices: int = 0


@dataclass(frozen=True, slots=True)
class GameParts:
    """One readable game of a snapshot, its bookmakers still as pushed.

    Attributes:
        event: the game.
        books: each bookmaker's JSON object, byte for byte as it came: equal bytes read
            as equal quotes (`read_book`), so a book-game whose bytes did not change
            since the last push needs no reading at all.
    """

    event: ProviderEvent
    books: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class SnapshotParts:
    """A snapshot cut into book-games, before any bookmaker is read (`split_snapshot`).

    Attributes:
        sport: the body's ``sport``, or the caller's when the body names none.
        games: the readable games, in the order they came.
        skipped_games: games without two distinct team names or a readable start time,
            and entries that are no game at all.
    """

    sport: str
    games: tuple[GameParts, ...]
    skipped_games: int


@dataclass(frozen=True, slots=True)
class BookQuotes:
    """One bookmaker's quotes of one game (`read_book`), and what it skipped.

    ``timed_by_caller`` is true when the book had no readable ``last_update``, so its
    quotes took the caller's ``received_at``: the same bytes then read differently at
    another time.
    """

    quotes: tuple[ParsedQuote, ...]
    skipped_markets: int
    skipped_outcomes: int
    skipped_prices: int
    timed_by_caller: bool


def split_snapshot(body: object, *, provider: str = PROVIDER, sport: str = "") -> SnapshotParts:
    """Cut a REST odds response (or a push's ``data``) into games and raw bookmakers.

    Only the envelope of each game is decoded: its teams and start time, and the list of
    its bookmakers as raw JSON. ``sport`` stands in when the body names none.

    Raises:
        ParseError: the body is not an odds response.
    """
    decoded: _Body = decode_json(_BODY, body, "RapidOddsAPI odds response")
    sport_name = decoded.sport if isinstance(decoded.sport, str) and decoded.sport else sport
    games: list[GameParts] = []
    skipped = 0
    for raw in decoded.games or ():
        try:
            entry = _GAME.decode(raw)
        except (msgspec.MsgspecError, RecursionError):
            skipped += 1
            continue
        event = _event(entry.game, provider, sport_name)
        if event is None:
            skipped += 1
            continue
        # Copied out of the body: a Raw keeps the whole push's buffer alive.
        games.append(GameParts(event, tuple(bytes(book) for book in entry.bookmakers or ())))
    return SnapshotParts(sport_name, tuple(games), skipped)


def read_book(event: ProviderEvent, book: bytes, received_at: float | None) -> BookQuotes:
    """Read one bookmaker's object of ``event``'s game into quotes.

    ``received_at`` is the quote time when the book has no readable ``last_update``;
    without either, the book's markets are skipped.

    Raises:
        ParseError: ``book`` is not a bookmaker object (the whole game is unreadable).
    """
    try:
        decoded = _BOOK.decode(book)
    except (msgspec.MsgspecError, RecursionError) as error:
        raise ParseError(f"unreadable RapidOddsAPI bookmaker: {error}") from None
    counts = _Counts()
    quotes: list[ParsedQuote] = []
    timed_by_caller = _book_quotes(event, decoded, received_at, counts, quotes)
    return BookQuotes(
        tuple(quotes), counts.markets, counts.outcomes, counts.prices, timed_by_caller
    )


def parse_snapshot(
    body: object,
    *,
    provider: str = PROVIDER,
    sport: str = "",
    received_at: float | None = None,
) -> Snapshot:
    """Read a REST odds response, or the ``data`` of an ``odds_update`` push.

    ``body`` is the JSON as bytes or text, or already decoded. ``sport`` stands in when
    the body names none. ``received_at`` is the quote time of a bookmaker without a
    readable ``last_update``; without either, that book's markets are skipped. A game
    with a bookmaker that is not an object is skipped whole, as unreadable.

    Raises:
        ParseError: the body is not an odds response.
    """
    return read_snapshot(split_snapshot(body, provider=provider, sport=sport), received_at)


def read_snapshot(parts: SnapshotParts, received_at: float | None) -> Snapshot:
    """Read every book-game of ``parts`` (see `parse_snapshot`)."""
    counts = _Counts(games=parts.skipped_games)
    events: dict[str, ProviderEvent] = {}
    quotes: list[ParsedQuote] = []
    for game in parts.games:
        try:
            books = [read_book(game.event, book, received_at) for book in game.books]
        except ParseError:
            counts.games += 1
            continue
        events.setdefault(game.event.provider_event_id, game.event)
        for book in books:
            quotes.extend(book.quotes)
            counts.markets += book.skipped_markets
            counts.outcomes += book.skipped_outcomes
            counts.prices += book.skipped_prices
    return Snapshot(
        sport=parts.sport,
        events=tuple(events.values()),
        quotes=tuple(quotes),
        skipped_games=counts.games,
        skipped_markets=counts.markets,
        skipped_outcomes=counts.outcomes,
        skipped_prices=counts.prices,
    )


def _event(game: _Game | None, provider: str, sport: str) -> ProviderEvent | None:
    """The game as a `ProviderEvent`, or None without two distinct teams and a time."""
    if game is None:
        return None
    home, away = game.home_team, game.away_team
    if not (isinstance(home, str) and isinstance(away, str) and home and away):
        return None
    if home.strip().casefold() == away.strip().casefold():
        return None  # outcome names could not tell the sides apart
    starts_at = parse_utc_timestamp(game.commence_time)
    if starts_at is None:
        return None
    return ProviderEvent(
        provider=provider,
        provider_event_id=provider_event_id(sport, home, away, starts_at),
        sport=sport,
        home=home,
        away=away,
        starts_at=starts_at,
        # Only a web address is kept: it goes into alerts as a link.
        url=game.game_url if _is_web_url(game.game_url) else "",
    )


def _is_web_url(value: object) -> bool:
    """Whether ``value`` is an http(s) address (the wire's ``game_url`` may be null)."""
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _book_quotes(
    event: ProviderEvent,
    book: _Bookmaker,
    received_at: float | None,
    counts: _Counts,
    quotes: list[ParsedQuote],
) -> bool:
    """Append one bookmaker's quotes of one game to ``quotes``.

    Returns whether they took ``received_at`` as their quote time (the book had no
    readable ``last_update``).
    """
    markets = book.markets or ()
    quoted_at = parse_utc_timestamp(book.last_update)
    timed_by_caller = quoted_at is None
    if quoted_at is None:
        quoted_at = received_at
    if not isinstance(book.name, str) or not book.name or quoted_at is None:
        counts.markets += len(markets)
        return timed_by_caller
    for market in markets:
        spec = _market_spec(market.key) if isinstance(market.key, str) else None
        if spec is None:
            counts.markets += 1
            continue
        if spec.kind is MarketKind.MONEYLINE and any(map(_is_draw, market.outcomes or ())):
            # A head_to_head that prices a draw is three-way: read as 2-way, its home and
            # away prices would look like an arbitrage against any other book.
            spec = spec._replace(kind=MarketKind.MONEYLINE_3WAY)
        for outcome in market.outcomes or ():
            quote = _quote(event, spec, outcome, book=book.name, quoted_at=quoted_at, counts=counts)
            if quote is not None:
                quotes.append(quote)
    return timed_by_caller


def _quote(
    event: ProviderEvent,
    spec: _MarketSpec,
    outcome: _Outcome,
    *,
    book: str,
    quoted_at: float,
    counts: _Counts,
) -> ParsedQuote | None:
    """One outcome as a quote, or None (counted) when it cannot be one."""
    side = _side(spec.kind, outcome, event)
    player = ""
    line: float | None = 0.0
    if spec.kind is MarketKind.PLAYER_PROP:
        player = outcome.player_name.strip() if isinstance(outcome.player_name, str) else ""
    if spec.kind not in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
        line = _line(outcome.point)
    if side is None or line is None or (spec.kind is MarketKind.PLAYER_PROP and not player):
        counts.outcomes += 1
        return None
    price = _decimal(outcome.price)
    if price is None:
        counts.prices += 1
        return None
    return ParsedQuote(
        provider_event_id=event.provider_event_id,
        kind=spec.kind,
        period=spec.period,
        side=side,
        line=line,
        book=book,
        price=price,
        quoted_at=quoted_at,
        player=player,
        stat=spec.stat,
    )


def _side(kind: MarketKind, outcome: _Outcome, event: ProviderEvent) -> int | None:
    """The outcome slot an outcome's name stands for, or None."""
    name = outcome.name
    if not isinstance(name, str):
        return None
    if kind in (MarketKind.TOTAL, MarketKind.PLAYER_PROP):
        return _OVER_UNDER.get(name.strip().casefold())
    side = _team_side(name, event)
    if side is None and kind is MarketKind.SPREAD and isinstance(outcome.team_name, str):
        side = _team_side(outcome.team_name, event)
    if side is None and kind is MarketKind.MONEYLINE_3WAY and _is_draw(outcome):
        return DRAW
    return side


def _is_draw(outcome: _Outcome) -> bool:
    """Whether an outcome is named as a draw ("Draw", "Tie")."""
    return isinstance(outcome.name, str) and outcome.name.strip().casefold() in _DRAW_NAMES


def _team_side(name: str, event: ProviderEvent) -> int | None:
    """HOME or AWAY when ``name`` is one of the event's teams."""
    if name == event.home:
        return HOME
    if name == event.away:
        return AWAY
    folded = name.strip().casefold()
    if folded == event.home.strip().casefold():
        return HOME
    if folded == event.away.strip().casefold():
        return AWAY
    return None


def _real(value: object) -> float | None:
    """A JSON number as a finite float, or None (text, bool, NaN, infinite, overflowing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return number if math.isfinite(number) else None


def _line(value: object) -> float | None:
    """A ``point`` as a line, or None when missing, not a number or absurd."""
    number = _real(value)
    if number is None or abs(number) > MAX_ABS_LINE:
        return None
    return normalize_line(number)


def _decimal(value: object) -> float | None:
    """A decimal price > 1.0, or None."""
    number = _real(value)
    return number if number is not None and number > 1.0 else None
