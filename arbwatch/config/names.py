"""Names checked against the providers' catalogs: books, sports and market types.

A misspelled name never fails at run time: the rule just never fires. So the loader holds
every name a bettor writes against what the providers of the config's feeds document
(`arbwatch.feeds.catalog`):

- the same name in another case or spacing (``pinnacle``, ``draftkings``) is taken, and the
  provider's spelling is used from then on; RapidOddsAPI is case-sensitive on the wire, so
  a feed's ``bookmakers: [draftkings]`` is sent as ``DraftKings``;
- a near miss (``Pinacle``, ``NBAA``, ``moneyline`` for a RapidOddsAPI market) is an error
  that says what was meant;
- a name nothing resembles is a warning, not an error: the providers' lists are documented
  as open (new books and sports appear), so ``check-config --online`` asks the providers,
  and its answer is what settles it.

Warnings also cover what is spelled right but cannot arrive: a rule's book or sport that no
feed asks for. Every message names ``FILE:LINE: PATH`` as the loader's own do.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Final

from arbwatch.config.model import Config, NameCheck
from arbwatch.config.yamlsource import ListValue, MapValue, Problems, ScalarValue, Value, child_path
from arbwatch.core.books import book_id
from arbwatch.core.markets import normalize_sport
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.feeds.catalog import (
    CATALOGS,
    RAPIDODDS,
    RAPIDODDS_BRANDS,
    RAPIDODDS_MARKET_SYNONYMS,
    RAPIDODDS_MARKETS,
    RAPIDODDS_UNSCRAPED_SPORTS,
    RUNDOWN_AFFILIATES,
    RUNDOWN_HISTORICAL_AFFILIATES,
    RUNDOWN_LIVE_MARKETS,
    RUNDOWN_MARKETS,
    RUNDOWN_OTHER_AFFILIATE_NAMES,
    RUNDOWN_RETIRED_AFFILIATES,
    RUNDOWN_SPORT_SHORT_NAMES,
    RUNDOWN_SPORTS,
    ProviderCatalog,
    is_rapidodds_market,
)
from arbwatch.feeds.registry import FeedSettings

#: How alike (difflib's ratio, on the canonical forms) a name must be to a catalog's name to
#: be taken as a misspelling of it: "Pinacle" (0.93) and "NBAA" (0.86) are, "Betfair" against
#: "Betr" (0.73) and "NBL" against "NBA" (0.67), two real names, are not.
NEAR_MISS: Final = 0.8
#: How to settle a name the documents do not hold, by provider.
_ASK_RUNDOWN: Final = "check-config --online asks TheRundown"
_ASK_RAPIDODDS: Final = "check-config --online asks RapidOddsAPI"
_RAPIDODDS_NO_BOOKS: Final = "RapidOddsAPI publishes no list of bookmakers to ask"
#: What a rule needs a book's prices for, as messages say what it loses without them.
_BETS: Final = "never bets there"
_PRICES: Final = "never has a fair price from it"


def check_names(root: Value, config: Config, problems: Problems) -> Config:
    """Check the names in the config file ``root``, which was read into ``config``.

    Errors go to ``problems``. Returns ``config`` with names in the providers' spelling and
    the warnings and spellings noted (`Config.names`); meaningful only when ``problems`` is
    empty.
    """
    checker = _Checker(problems)
    if isinstance(root, MapValue):
        feeds = [
            item for item in list_items(root.entries.get("feeds")) if isinstance(item, MapValue)
        ]
        scopes = [scope for feed in feeds if (scope := checker.feed(feed)) is not None]
        rules = [
            item for item in list_items(root.entries.get("rules")) if isinstance(item, MapValue)
        ]
        if scopes:
            for rule in rules:
                checker.rule(rule, scopes)
            checker.commissions(root.entries.get("commissions"), scopes)
    return checker.apply(config)


# --- lookups -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    """A written name looked up in a list of names.

    Attributes:
        spelling: the list's name it is (same canonical form), or None.
        near: else, the list's name it is a near miss of, or None.
    """

    spelling: str | None
    near: str | None


def look_up(written: str, names: Collection[str], canonical: Callable[[str], str]) -> Found:
    """``written`` among ``names``, compared by ``canonical`` form (see `NEAR_MISS`)."""
    by_form = {canonical(name): name for name in names}
    form = canonical(written)
    if form in by_form:
        return Found(by_form[form], None)
    close = difflib.get_close_matches(form, sorted(by_form), n=1, cutoff=NEAR_MISS)
    return Found(None, by_form[close[0]] if close else None)


def market_form(key: str) -> str:
    """A market key compared without case or stray spaces (keys are lower case)."""
    return key.strip().casefold()


# --- what feeds ask for --------------------------------------------------------------------


@dataclass(slots=True)
class _Scope:
    """What one feed asks its provider for.

    ``books`` and ``sports`` are canonical forms (`book_id`, `normalize_sport`); None when
    the feed takes every one, or when that cannot be told from the config.
    """

    name: str
    catalog: ProviderCatalog
    books: set[str] | None
    sports: set[str] | None


def list_items(value: Value | None) -> tuple[Value, ...]:
    """A list's items as written (nothing for anything else: the loader reported it)."""
    return value.items if isinstance(value, ListValue) else ()


def text_of(value: Value | None) -> str | None:
    """A scalar's text, stripped; None for anything else (the loader reported it)."""
    if isinstance(value, ScalarValue) and not value.flawed and isinstance(value.data, str):
        return value.data.strip() or None
    return None


def whole_of(value: Value) -> int | None:
    """A scalar's whole number; None for anything else."""
    if isinstance(value, ScalarValue) and type(value.data) is int:
        return value.data
    return None


@dataclass(slots=True)
class _Respelled:
    """Names to write in the provider's spelling: feed fields by feed, books everywhere."""

    feeds: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    books: dict[str, str] = field(default_factory=dict)


class _Checker:
    """Checks the names of one config file, feed by feed and rule by rule."""

    def __init__(self, problems: Problems) -> None:
        self._problems = problems
        self._warnings = Problems(problems.source_name)
        self._spellings = Problems(problems.source_name)
        self._respelled = _Respelled()

    # --- feeds ---

    def feed(self, feed: MapValue) -> _Scope | None:
        """Check one feed's names; what it asks for (None: not a feed of a known provider)."""
        provider = text_of(feed.entries.get("provider"))
        name = text_of(feed.entries.get("name")) or ""
        catalog = CATALOGS.get(provider or "")
        if catalog is None:
            return None
        if catalog is RAPIDODDS:
            return self._rapidodds_feed(name, feed)
        return self._rundown_feed(name, feed, catalog)

    def _rapidodds_feed(self, name: str, feed: MapValue) -> _Scope:
        """A RapidOddsAPI feed: sports, bookmakers and market keys as the wire spells them."""
        sports = self._sent(name, feed, "sports", self._rapidodds_sport)
        books = self._sent(name, feed, "bookmakers", self._rapidodds_book)
        self._sent(name, feed, "market_types", self._rapidodds_market)
        return _Scope(
            name,
            RAPIDODDS,
            {book_id(book) for book in books},
            {normalize_sport(sport) for sport in sports},
        )

    def _sent(
        self,
        name: str,
        feed: MapValue,
        key: str,
        spell: Callable[[Value, str], str | None],
    ) -> list[str]:
        """The names of a feed's list ``key`` as they will be sent.

        That is RapidOddsAPI's spelling where ``spell`` finds one, else as written; each name
        respelled is noted.
        """
        sent = []
        for item in list_items(feed.entries.get(key)):
            written = text_of(item)
            if written is None:
                continue
            spelling = spell(item, written)
            sent.append(spelling or written)
            if spelling is not None and spelling != written:
                self._respelled.feeds.setdefault(name, {}).setdefault(key, {})[written] = spelling
                self._spellings.at(
                    item, f"{written!r} is sent as {spelling!r} (RapidOddsAPI's spelling)"
                )
        return sent

    def _rapidodds_sport(self, item: Value, written: str) -> str | None:
        """A RapidOddsAPI sport id: its spelling, or None after reporting why not."""
        found = look_up(written, RAPIDODDS.sports, normalize_sport)
        if found.spelling in RAPIDODDS_UNSCRAPED_SPORTS:
            self._warnings.at(
                item,
                f"RapidOddsAPI accepts {found.spelling!r} but does not scrape it yet: "
                "it returns no games",
            )
        if found.spelling is None:
            self._unknown(
                item,
                written,
                found,
                where="RapidOddsAPI's sports",
                then="it is sent as written, and RapidOddsAPI refuses a sport it does not know",
                settle=_ASK_RAPIDODDS,
            )
        return found.spelling

    def _rapidodds_book(self, item: Value, written: str) -> str | None:
        """A RapidOddsAPI bookmaker feed name: its spelling, or None after reporting."""
        brand = look_up(written, RAPIDODDS_BRANDS, book_id).spelling
        if brand is not None:
            self._problems.at(
                item,
                f"{written!r} is a brand, and RapidOddsAPI returns nothing for a brand: "
                f"ask for {RAPIDODDS_BRANDS[brand]!r}, the feed that carries it",
            )
            return None
        found = look_up(written, RAPIDODDS.books, book_id)
        if found.spelling is None:
            self._unknown(
                item,
                written,
                found,
                where="RapidOddsAPI's bookmaker feeds",
                then="it is sent as written, and a name unknown to RapidOddsAPI brings no prices",
                settle=_RAPIDODDS_NO_BOOKS,
            )
        return found.spelling

    def _rapidodds_market(self, item: Value, written: str) -> str | None:
        """A RapidOddsAPI market key: its spelling, or None after reporting why not."""
        form = market_form(written)
        if is_rapidodds_market(form):
            return form
        meant = RAPIDODDS_MARKET_SYNONYMS.get(form)
        if meant is not None:
            self._problems.at(
                item,
                f"RapidOddsAPI has no market {written!r}: its key for it is {meant!r} "
                "(did you mean it?)",
            )
            return None
        found = look_up(form, RAPIDODDS_MARKETS, market_form)
        self._unknown(
            item,
            written,
            found,
            where="RapidOddsAPI's market keys",
            then="it is sent as written, and a key a sport does not offer brings no prices",
            settle=_ASK_RAPIDODDS,
        )
        return None

    def _rundown_feed(self, name: str, feed: MapValue, catalog: ProviderCatalog) -> _Scope:
        """A TheRundown feed: its sport, affiliate and market ids."""
        sports = self._rundown_sports(list_items(feed.entries.get("sport_ids")), catalog)
        books = self._rundown_books(list_items(feed.entries.get("affiliate_ids")), catalog)
        for item in list_items(feed.entries.get("market_ids")):
            market = whole_of(item)
            if market is not None and not (
                market in RUNDOWN_MARKETS or market in RUNDOWN_LIVE_MARKETS
            ):
                self._warnings.at(
                    item,
                    f"market {market} is not among TheRundown's documented markets "
                    f"({', '.join(map(str, RUNDOWN_MARKETS))} and their live variants); "
                    "its prices are used if they come",
                )
        return _Scope(name, catalog, books, sports)

    def _rundown_sports(
        self, items: tuple[Value, ...], catalog: ProviderCatalog
    ) -> set[str] | None:
        """The sports a TheRundown feed watches (None: one cannot be told offline)."""
        sports: set[str] | None = set()
        for item in items:
            sport_id = whole_of(item)
            if sport_id is None:
                continue
            if sport_id not in RUNDOWN_SPORTS:
                sports = None
                self._warnings.at(
                    item,
                    f"sport {sport_id} is not in TheRundown's documented sports ({_ASK_RUNDOWN})",
                )
            elif sports is not None:
                sports.add(normalize_sport(RUNDOWN_SPORTS[sport_id]))
                if sport_id in RUNDOWN_SPORT_SHORT_NAMES:
                    sports.add(normalize_sport(RUNDOWN_SPORT_SHORT_NAMES[sport_id]))
        return sports

    def _rundown_books(self, items: tuple[Value, ...], catalog: ProviderCatalog) -> set[str] | None:
        """The books a TheRundown feed asks for (None: every one, or unknown offline)."""
        if not items:
            return None
        books: set[str] | None = set()
        for item in items:
            affiliate = whole_of(item)
            if affiliate is None:
                continue
            book = self._rundown_affiliate(item, affiliate, catalog)
            if book is None or books is None:
                books = None
                continue
            books.add(book_id(book))
            if affiliate in RUNDOWN_OTHER_AFFILIATE_NAMES:
                books.add(book_id(RUNDOWN_OTHER_AFFILIATE_NAMES[affiliate]))
        return books

    def _rundown_affiliate(
        self, item: Value, affiliate: int, catalog: ProviderCatalog
    ) -> str | None:
        """The book an affiliate id is, or None after reporting why it is not known."""
        if affiliate in RUNDOWN_AFFILIATES:
            return RUNDOWN_AFFILIATES[affiliate]
        if affiliate in RUNDOWN_RETIRED_AFFILIATES:
            self._problems.at(
                item,
                f"affiliate {affiliate} ({RUNDOWN_RETIRED_AFFILIATES[affiliate]}) is retired: "
                "TheRundown's feed drops its prices, so it would never be bet",
            )
        elif affiliate in RUNDOWN_HISTORICAL_AFFILIATES:
            self._warnings.at(
                item,
                f"affiliate {affiliate} ({RUNDOWN_HISTORICAL_AFFILIATES[affiliate]}) is no "
                f"longer in TheRundown's list ({_ASK_RUNDOWN})",
            )
        else:
            self._warnings.at(
                item,
                f"affiliate {affiliate} is not in TheRundown's documented list ({_ASK_RUNDOWN})",
            )
        return None

    # --- rules ---

    def rule(self, rule: MapValue, scopes: list[_Scope]) -> None:
        """Check one rule's books, sharp books and sports against the feeds' providers."""
        books = rule.entries.get("books")
        # A misspelled exclusion is as bad as any (the book is bet into), but a book no feed
        # asks for needs no excluding.
        by_use: list[tuple[Value | None, str | None]] = [(books, _BETS)]
        if isinstance(books, MapValue):
            by_use = [(books.entries.get("include"), _BETS), (books.entries.get("exclude"), None)]
        by_use.append((rule.entries.get("sharp"), _PRICES))
        for listed, use in by_use:
            for item in list_items(listed):
                written = text_of(item)
                if written is not None:
                    self._book(item, written, scopes, use)
        for item in list_items(rule.entries.get("sports")):
            written = text_of(item)
            if written is not None:
                self._sport(item, written, scopes)

    def commissions(self, commissions: Value | None, scopes: list[_Scope]) -> None:
        """Check the books ``commissions`` names, at each key's line."""
        if not isinstance(commissions, MapValue):
            return
        for book in commissions.entries:
            if book.strip():
                # The key stands where it is written, as a value of its own.
                key = ScalarValue(
                    line=commissions.key_lines[book],
                    path=child_path(commissions.path, book),
                    data=book,
                    text=book,
                    written=book,
                )
                self._book(key, book.strip(), scopes, None)

    def _book(self, item: Value, written: str, scopes: list[_Scope], use: str | None) -> None:
        """A book the config names: known to one of the feeds' providers.

        When a rule needs its prices, ``use`` says what for (`_BETS`, `_PRICES`), and some
        feed must ask for it; None when the rule could do without them.
        """
        catalogs = _catalogs(scopes)
        found = look_up(written, [book for c in catalogs for book in c.books], book_id)
        if found.spelling is None:
            gone = [book for catalog in catalogs for book in catalog.retired_books]
            retired = look_up(written, gone, book_id)
            if retired.spelling is not None:
                self._warnings.at(
                    item, f"{retired.spelling!r} is no longer among TheRundown's books"
                )
                return
            self._unknown(
                item,
                written,
                found,
                where=_whose(catalogs, "books"),
                then=("the rule uses it" if use else "it counts")
                + " only if a feed delivers prices under that name",
                settle="; ".join(
                    _ASK_RUNDOWN if catalog.books_online else _RAPIDODDS_NO_BOOKS
                    for catalog in catalogs
                ),
            )
            return
        if found.spelling != written:
            self._respelled.books[written] = found.spelling
            self._spellings.at(item, f"{written!r} is {found.spelling!r}")
        if (
            use
            and all(scope.books is not None for scope in scopes)
            and not any(book_id(found.spelling) in (scope.books or ()) for scope in scopes)
        ):
            self._warnings.at(
                item,
                f"no feed asks for {found.spelling!r}, so the rule {use}: add it to a feed's "
                "bookmakers (RapidOddsAPI) or affiliate_ids (TheRundown)",
            )

    def _sport(self, item: Value, written: str, scopes: list[_Scope]) -> None:
        """A sport a rule names: known to one of the feeds' providers, and watched."""
        catalogs = _catalogs(scopes)
        found = look_up(written, [sport for c in catalogs for sport in c.sports], normalize_sport)
        if found.spelling is None:
            self._unknown(
                item,
                written,
                found,
                where=_whose(catalogs, "sports"),
                then="the rule fires on it only if a feed's games carry that sport's name",
                settle="check-config --online asks the providers",
            )
            return
        if all(scope.sports is not None for scope in scopes) and not any(
            normalize_sport(found.spelling) in (scope.sports or ()) for scope in scopes
        ):
            self._warnings.at(
                item,
                f"no feed watches {found.spelling!r}, so the rule never fires for it: add it "
                "to a feed's sports or sport_ids",
            )

    def _unknown(
        self,
        item: Value,
        written: str,
        found: Found,
        *,
        where: str,
        then: str,
        settle: str,
    ) -> None:
        """A name not in the catalog: an error if it is a near miss, else a warning.

        Args:
            item: where it is written.
            written: the name.
            found: what the look-up found near it.
            where: the list it is not in ("RapidOddsAPI's sports").
            then: what happens to a name nobody knows.
            settle: how to find out for sure.
        """
        if found.near is not None:
            self._problems.at(
                item, f"{written!r} is not one of {where}, did you mean {found.near!r}?"
            )
            return
        self._warnings.at(
            item, f"{written!r} is not one of {where}, nor close to one: {then} ({settle})"
        )

    # --- the result ---

    def apply(self, config: Config) -> Config:
        """``config`` with the names respelled and the findings noted."""
        feeds = tuple(self._feed_respelled(feed) for feed in config.feeds)
        rules = tuple(self._rule_respelled(rule) for rule in config.rules)
        commissions = {self._respelled.books.get(b, b): c for b, c in config.commissions.items()}
        return dataclasses.replace(
            config,
            feeds=feeds,
            rules=rules,
            commissions=commissions,
            names=NameCheck(
                warnings=tuple(self._warnings.messages()),
                spellings=tuple(self._spellings.messages()),
            ),
        )

    def _feed_respelled(self, feed: FeedSettings) -> FeedSettings:
        """A feed with its names in the provider's spelling."""
        changes = self._respelled.feeds.get(feed.name)
        if not changes:
            return feed
        fields = {
            key: tuple(dict.fromkeys(spelling.get(name, name) for name in getattr(feed, key)))
            for key, spelling in changes.items()
        }
        return dataclasses.replace(feed, **fields)  # type: ignore[arg-type]

    def _rule_respelled(self, rule: RuleConfig) -> RuleConfig:
        """A rule with its books in the providers' spelling."""
        spell = self._respelled.books
        if not spell:
            return rule
        return dataclasses.replace(
            rule,
            books=None if rule.books is None else frozenset(spell.get(b, b) for b in rule.books),
            excluded_books=frozenset(spell.get(b, b) for b in rule.excluded_books),
            sharp=tuple(dict.fromkeys(spell.get(b, b) for b in rule.sharp)),
        )


def _catalogs(scopes: list[_Scope]) -> list[ProviderCatalog]:
    """The catalogs of the feeds' providers, each once, in feed order."""
    return list(dict.fromkeys(scope.catalog for scope in scopes))


def _whose(catalogs: list[ProviderCatalog], what: str) -> str:
    """``TheRundown's or RapidOddsAPI's books``."""
    return " or ".join(f"{catalog.provider}'s" for catalog in catalogs) + f" {what}"


def name_lines(check: NameCheck) -> Iterator[str]:
    """The lines ``check-config`` prints for ``check``: spellings, then warnings."""
    yield from (f"note: {line}" for line in check.spellings)
    yield from (f"warning: {line}" for line in check.warnings)
