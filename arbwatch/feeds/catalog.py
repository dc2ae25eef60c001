"""The names each provider documents: sports, books and markets, as data.

Pure data and lookups, no I/O. The config checks (`arbwatch.config.names`) hold a bettor's
``books``, ``sharp``, ``sports`` and ``market_types`` against these lists, and
``check-config --online`` against what the providers answer today. Neither provider's lists
are closed (TheRundown says to fetch them at start; RapidOddsAPI has no bookmakers endpoint
at all), so a name missing here is not proof that it is wrong: see `ProviderCatalog`.

Sources: ``reference/providers.md`` §1.3 (TheRundown's ID tables) and §2.3 (RapidOddsAPI's
sports, bookmakers and market keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# --- TheRundown (providers.md §1.3) --------------------------------------------------------

#: sport_id -> the sport's name, as TheRundown's sports table and ``/api/v2/sports`` give it
#: ("The table is not closed: fetch /api/v2/sports at startup").
RUNDOWN_SPORTS: Final[Mapping[int, str]] = MappingProxyType({
    1: "NCAA Football", 2: "NFL", 3: "MLB", 4: "NBA", 5: "NCAA Men's Basketball", 6: "NHL",
    7: "UFC/MMA", 8: "WNBA", 9: "CFL", 10: "MLS", 11: "EPL", 12: "Ligue 1", 13: "Bundesliga",
    14: "La Liga", 15: "Serie A", 16: "UEFA Champions League", 17: "UEFA Euro", 18: "FIFA",
    19: "J-League", 20: "IPL", 21: "T20", 22: "Politics", 23: "NBA Preseason",
    24: "NBA Playoffs", 25: "NFL Preseason", 26: "NFL Playoffs", 27: "NHL Preseason",
    28: "NHL Playoffs", 30: "MLB Spring Training", 31: "MLB Playoffs", 32: "NBA Summer League",
    33: "UEFA Europa League", 38: "TENNIS.ATP", 39: "TENNIS.WTA",
})  # fmt: skip
#: The short names the sports table gives in brackets ("NCAA Football (NCAAF)"); which of the
#: two a sport's events carry is not documented, so both are taken as known.
RUNDOWN_SPORT_SHORT_NAMES: Final[Mapping[int, str]] = MappingProxyType({
    1: "NCAAF", 5: "NCAAB", 12: "FRA1", 13: "GER1", 14: "ESP1", 15: "ITA1", 16: "UEFACHAMP",
    19: "JPN1",
})  # fmt: skip
#: affiliate_id -> sportsbook, the docs' current table.
RUNDOWN_AFFILIATES: Final[Mapping[int, str]] = MappingProxyType({
    2: "Bovada", 3: "Pinnacle", 4: "Sportsbetting", 6: "BetOnline", 11: "LowVig", 12: "Bodog",
    14: "Intertops", 16: "Matchbook", 18: "YouWager", 19: "DraftKings", 21: "Unibet",
    22: "BetMGM", 23: "FanDuel", 24: "theScore Bet", 25: "Kalshi", 26: "Polymarket",
})  # fmt: skip
#: Names other revisions give the same ids (24 "ESPN Bet" on an older page; 24 PointsBet and
#: 25 Caesars in the OpenAPI example): the server's answer decides, so both are known.
RUNDOWN_OTHER_AFFILIATE_NAMES: Final[Mapping[int, str]] = MappingProxyType({
    24: "ESPN Bet", 25: "Caesars",
})  # fmt: skip
#: Retired affiliates: the feed drops their prices (official code filters 27 out too).
RUNDOWN_RETIRED_AFFILIATES: Final[Mapping[int, str]] = MappingProxyType({27: "BetRivers"})
#: Affiliates of old SDK tables, no longer in the docs' list.
RUNDOWN_HISTORICAL_AFFILIATES: Final[Mapping[int, str]] = MappingProxyType({
    1: "5Dimes", 7: "Bookmaker", 9: "betcris", 10: "JustBet", 15: "TigerGaming",
    17: "RedZone", 20: "Pointsbet",
})  # fmt: skip
#: market_id -> market, prematch (the docs list 600+ in ``/api/v2/markets``; these are the
#: documented ones).
RUNDOWN_MARKETS: Final[Mapping[int, str]] = MappingProxyType({
    1: "Moneyline", 2: "Point Spread", 3: "Total O/U", 4: "Moneyline first half",
    29: "Player Points", 33: "Player Turnovers", 35: "Player Rebounds", 38: "Three Pointers",
    39: "Player Assists", 87: "Double Double", 88: "Triple Double", 93: "Player PRA",
    94: "Team Totals", 98: "Player Blocks", 99: "Points+Assists", 297: "Points+Rebounds",
    298: "Rebounds+Assists", 1141: "Futures",
})  # fmt: skip
#: Live (in-play) market_id -> the prematch market it is the live variant of.
RUNDOWN_LIVE_MARKETS: Final[Mapping[int, int]] = MappingProxyType({
    41: 1, 42: 2, 43: 3, 90: 29, 91: 39, 92: 38, 96: 94, 982: 35, 983: 98, 984: 33, 1024: 4,
})  # fmt: skip

# --- RapidOddsAPI (providers.md §2.3) -------------------------------------------------------

#: Sport ids the SDK lists and the API scrapes.
RAPIDODDS_SPORTS: Final = (
    "NFL", "NBA", "WNBA", "MLB", "NHL", "AFL", "NRL", "EPL", "MLS", "WORLD_CUP", "MENS_AO",
    "MENS_RG", "MENS_WIMBLEDON", "MENS_USO",
)  # fmt: skip
#: Sport ids the API accepts but does not scrape yet: they return no games.
RAPIDODDS_UNSCRAPED_SPORTS: Final = (
    "LA_LIGA", "SERIE_A", "BUNDESLIGA", "LIGUE_1", "UCL", "A_LEAGUE",
)  # fmt: skip
#: Bookmaker feed names by region, as requests must spell them (the wire is case-sensitive).
RAPIDODDS_BOOKMAKERS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "AU": (
        "Bet365", "Sportsbet", "TAB", "Pointsbet", "Ladbrokes", "Unibet", "Betr", "BetRight",
        "PalmerBet", "NextBet", "PickleBet", "Dabble", "Amused", "Betmakers", "GenWeb",
        "PuntersTech", "BetCloud", "ApolloTech",
    ),
    "US": (
        "DraftKings", "BetMGM", "Fanatics", "theScoreBet", "Bovada", "Fliff", "Bet365", "Unibet",
    ),
    "EU": ("Bet365", "Pinnacle"),
})  # fmt: skip
#: Brands a request cannot name: their prices come through another feed's name.
RAPIDODDS_BRANDS: Final[Mapping[str, str]] = MappingProxyType({"Neds": "Ladbrokes"})
#: Market keys seen in official and third-party sources; each sport has its own list
#: (``/sports?sport=X&markets=true``), about 440 keys in all.
RAPIDODDS_MARKETS: Final = (
    "head_to_head", "head_to_head_3_way", "draw_no_bet", "head_to_head_1st_half",
    "head_to_head_1st_5_innings", "head_to_head_1st_period", "head_to_head_1st_set",
    "head_to_head_3_way_1st_half", "alternate_lines", "alternate_lines_1st_half",
    "alternate_total_points", "alternate_total_points_1st_half", "alternate_total_runs",
    "alternate_total_goals", "alternate_total_corners", "alternate_total_cards",
    "alternate_total_touchdowns", "alternate_team_total_points", "alternate_team_total_goals",
    "player_disposals", "player_points", "player_rebounds", "player_assists",
    "player_made_threes", "player_points_rebounds_assists", "player_goals",
    "player_shots_on_goal", "player_passing_yds", "player_receptions", "batter_total_bases",
    "batter_hits", "batter_home_runs", "pitcher_strikeouts", "player_1st_touchdown_scorer",
    "player_1st_goalscorer",
)  # fmt: skip
#: A prop's X+ ladder is the prop's key with this suffix (``player_points_milestones``).
RAPIDODDS_MILESTONES_SUFFIX: Final = "_milestones"
#: What bettors and other providers call a market, and RapidOddsAPI's key for it (it has no
#: ``spreads`` or ``totals`` key: its lines are ``alternate_*`` ladders).
RAPIDODDS_MARKET_SYNONYMS: Final[Mapping[str, str]] = MappingProxyType({
    "moneyline": "head_to_head", "h2h": "head_to_head", "match_winner": "head_to_head",
    "moneyline_3way": "head_to_head_3_way", "spread": "alternate_lines",
    "spreads": "alternate_lines", "handicap": "alternate_lines",
    "point_spread": "alternate_lines", "total": "alternate_total_points",
    "totals": "alternate_total_points",
})  # fmt: skip


# --- catalogs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderCatalog:
    """The names one provider documents, as the config checks use them.

    Attributes:
        provider: the provider as messages name it ("TheRundown").
        sports: sport names events carry (what a rule's ``sports`` compare to).
        books: book names its prices carry.
        retired_books: books it no longer carries (a rule naming one never fires).
        books_online: whether ``check-config --online`` can ask it for its books.
    """

    provider: str
    sports: tuple[str, ...]
    books: tuple[str, ...]
    retired_books: tuple[str, ...]
    books_online: bool


def _unique(*names: str) -> tuple[str, ...]:
    """``names`` in order, each once."""
    return tuple(dict.fromkeys(names))


RUNDOWN: Final = ProviderCatalog(
    provider="TheRundown",
    sports=_unique(*RUNDOWN_SPORTS.values(), *RUNDOWN_SPORT_SHORT_NAMES.values()),
    books=_unique(*RUNDOWN_AFFILIATES.values(), *RUNDOWN_OTHER_AFFILIATE_NAMES.values()),
    retired_books=_unique(
        *RUNDOWN_RETIRED_AFFILIATES.values(), *RUNDOWN_HISTORICAL_AFFILIATES.values()
    ),
    books_online=True,
)
RAPIDODDS: Final = ProviderCatalog(
    provider="RapidOddsAPI",
    sports=_unique(*RAPIDODDS_SPORTS, *RAPIDODDS_UNSCRAPED_SPORTS),
    books=_unique(*(book for books in RAPIDODDS_BOOKMAKERS.values() for book in books)),
    retired_books=(),
    books_online=False,
)

#: ``provider:`` of a feed -> the catalog of its provider.
CATALOGS: Final[Mapping[str, ProviderCatalog]] = MappingProxyType({
    "rapidoddsapi": RAPIDODDS, "therundown": RUNDOWN, "therundown_v1": RUNDOWN,
})  # fmt: skip


def is_rapidodds_market(key: str) -> bool:
    """Whether ``key`` is a RapidOddsAPI market key documented here (ladders included)."""
    return key in RAPIDODDS_MARKETS or key.removesuffix(RAPIDODDS_MILESTONES_SUFFIX) in (
        RAPIDODDS_MARKETS
    )
