"""One game is one event, whichever provider reported it.

RapidOddsAPI names a game by its teams and start time; TheRundown by a hex id. To find
arbitrage across providers, both must land on the same engine event, and different games
must never pair. A provider's event matches a known event when:

    - the sport is the same (names compared case-insensitively),
    - the two teams are the same after normalization (case, accents, punctuation, "&",
      club suffixes like FC) and the user's alias table ("LA Lakers" -> "Los Angeles
      Lakers"), in either order, and
    - the start times are within a window (6 h; 1.8 h for MLB, where doubleheaders put the
      same teams on the field twice in a day), the closest such event winning, and
    - that event has not already been claimed by another game of the same provider (two
      games of one provider are two games).

When the providers disagree on who is at home (neutral venues), the match stands and the
later provider's sides are flipped, so that "home" means one team across the engine.
Names that do not match are never guessed at: they stay separate events, and the alias
table is the way to join them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from arbwatch.core.markets import (
    AWAY,
    HOME,
    Event,
    MarketKind,
    PriceUpdate,
    moneyline,
    normalize_sport,
    player_prop,
    spread,
    total,
)
from arbwatch.feeds.model import ParsedQuote, ProviderEvent

#: How far apart two providers' start times for one game may be, by default.
DEFAULT_WINDOW: Final = 6 * 3600.0
#: Sports that need a narrower window (doubleheaders), in seconds.
SPORT_WINDOWS: Final = {"MLB": 1.8 * 3600.0}

_CLUB_SUFFIXES: Final = frozenset({"fc", "afc", "cf", "sc", "fk"})
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")


def normalize_team(name: str) -> str:
    """A team name reduced to what identifies it.

    ``"Brighton & Hove Albion F.C."`` becomes ``"brighton and hove albion"``.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = _NOT_WORD.sub(" ", ascii_name.lower().replace("&", " and ")).split()
    # "F.C." splits into "f c": rejoin single letters before dropping club suffixes.
    joined: list[str] = []
    for word in words:
        if len(word) == 1 and joined and len(joined[-1]) < 3 and joined[-1].isalpha():
            joined[-1] += word
        else:
            joined.append(word)
    return " ".join(word for word in joined if word not in _CLUB_SUFFIXES)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The engine event a provider's event is, and whether its home and away are swapped."""

    event: Event
    swapped: bool


@dataclass(slots=True)
class _Known:
    """An engine event and what identifies it."""

    event: Event
    home_key: str
    #: (provider, provider_event_id) of every provider game mapped to it.
    claims: set[tuple[str, str]] = field(default_factory=set)


class EventIdentity:
    """Maps provider events onto engine events; remembers every mapping it made."""

    def __init__(
        self,
        aliases: Mapping[str, str] | None = None,
        window: float = DEFAULT_WINDOW,
        sport_windows: Mapping[str, float] | None = None,
    ) -> None:
        """Create an empty registry.

        Args:
            aliases: team name -> the name it stands for (``{"LA Lakers": "Los Angeles
                Lakers"}``); both sides are normalized.
            window: the largest start-time difference for one game, in seconds.
            sport_windows: per-sport windows overriding ``window`` (default: MLB 1.8 h).
        """
        self._aliases = {normalize_team(k): normalize_team(v) for k, v in (aliases or {}).items()}
        self._window = window
        self._sport_windows = {
            normalize_sport(k): v for k, v in (sport_windows or SPORT_WINDOWS).items()
        }
        self._by_teams: dict[tuple[str, frozenset[str]], list[_Known]] = {}
        self._by_provider: dict[tuple[str, str], Resolved] = {}

    def team_key(self, name: str) -> str:
        """The key a team name is compared by, after normalization and aliases."""
        key = normalize_team(name)
        return self._aliases.get(key, key)

    def resolve(self, provider_event: ProviderEvent) -> Resolved:
        """The engine event for ``provider_event``, creating it if no known event matches."""
        claim = (provider_event.provider, provider_event.provider_event_id)
        known = self._by_provider.get(claim)
        if known is not None:
            return known
        sport = normalize_sport(provider_event.sport)
        home, away = self.team_key(provider_event.home), self.team_key(provider_event.away)
        pair = (sport, frozenset((home, away)))
        window = self._sport_windows.get(sport, self._window)
        candidates = [
            entry
            for entry in self._by_teams.get(pair, [])
            if abs(entry.event.starts_at - provider_event.starts_at) <= window
            and not any(provider == provider_event.provider for provider, _ in entry.claims)
        ]
        if candidates:
            entry = min(candidates, key=lambda e: abs(e.event.starts_at - provider_event.starts_at))
            resolved = Resolved(entry.event, swapped=entry.home_key != home)
        else:
            event = Event(
                event_id=_event_id(sport, home, away, provider_event.starts_at),
                sport=sport,
                home=provider_event.home,
                away=provider_event.away,
                starts_at=provider_event.starts_at,
                url=provider_event.url,
            )
            entry = _Known(event, home_key=home)
            self._by_teams.setdefault(pair, []).append(entry)
            resolved = Resolved(event, swapped=False)
        entry.claims.add(claim)
        self._by_provider[claim] = resolved
        return resolved

    def forget_started_before(self, cutoff: float) -> int:
        """Forget the events that started before ``cutoff``, and every mapping onto them.

        A daemon runs for weeks; past games would otherwise stay here for good. Pick a
        cutoff by which no provider sends anything about a game any more. Returns how
        many events were forgotten.
        """
        forgotten = 0
        for pair, entries in list(self._by_teams.items()):
            kept = [entry for entry in entries if entry.event.starts_at >= cutoff]
            forgotten += len(entries) - len(kept)
            if kept:
                self._by_teams[pair] = kept
            else:
                del self._by_teams[pair]
        self._by_provider = {
            claim: resolved
            for claim, resolved in self._by_provider.items()
            if resolved.event.starts_at >= cutoff
        }
        return forgotten

    def lookup(self, provider: str, provider_event_id: str) -> Resolved | None:
        """The mapping made earlier for a provider's event id, if any."""
        return self._by_provider.get((provider, provider_event_id))


def to_update(quote: ParsedQuote, resolved: Resolved) -> PriceUpdate:
    """Turn a provider's quote into the engine's update on the resolved event.

    Raises:
        InvalidMarketError: the quote's side does not exist in its market.
    """
    event_id, side, kind = resolved.event.event_id, quote.side, quote.kind
    if resolved.swapped and kind in _SIDED and side in (HOME, AWAY):
        side = AWAY if side == HOME else HOME
    if kind is MarketKind.SPREAD:
        market, slot = spread(event_id, side, quote.line, period=quote.period)
    elif kind is MarketKind.TOTAL:
        market, slot = total(event_id, quote.line, period=quote.period), side
    elif kind is MarketKind.PLAYER_PROP:
        market = player_prop(event_id, quote.player, quote.stat, quote.line, period=quote.period)
        slot = side
    else:
        three_way = kind is MarketKind.MONEYLINE_3WAY
        market, slot = moneyline(event_id, three_way=three_way, period=quote.period), side
    return PriceUpdate(market, slot, quote.book, quote.price, quote.quoted_at)


#: Market kinds whose sides are teams, and so flip with home and away.
_SIDED: Final = frozenset({MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY, MarketKind.SPREAD})


def _event_id(sport: str, home: str, away: str, starts_at: float) -> str:
    """A readable, stable id: ``NBA:boston-celtics@los-angeles-lakers:1800003600``."""
    slug = "@".join(team.replace(" ", "-") for team in (away, home))
    return f"{sport}:{slug}:{int(starts_at)}"
