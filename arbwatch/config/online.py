"""``check-config --online``: a config's names held against what the providers answer today.

The catalogs the loader checks against (`arbwatch.feeds.catalog`) are what the providers
document, and both say their lists are open. This asks them, for free:

- TheRundown: ``/api/v2/sports`` and ``/api/v2/affiliates`` (no key needed);
- RapidOddsAPI: ``/sports`` and ``/sports?sport=X&markets=true`` for each of a feed's sports
  (free with the feed's key). RapidOddsAPI has no list of bookmakers: only an odds request,
  which costs credits, names them, so a feed's ``bookmakers`` stay checked offline only.

What a feed asks for that its provider does not have is an error at its line, as is a book
or sport a rule names that no feed will deliver. Each feed's ``base_url`` is honoured, so a
relay, or a simulator in a test, answers instead. A provider that cannot be reached is a
message saying so, and the check fails: nothing was settled.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import httpx

from arbwatch.config.load import load_config, read_config_text
from arbwatch.config.names import NEAR_MISS, list_items, text_of, whole_of
from arbwatch.config.yamlsource import MapValue, Problems, Value, read_yaml
from arbwatch.core.books import book_id
from arbwatch.core.markets import normalize_sport
from arbwatch.core.words import plural
from arbwatch.errors import ArbwatchError
from arbwatch.feeds.base import redact, truncate
from arbwatch.feeds.failures import retry_after_seconds
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.registry import FeedSettings, provider_of
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.wire import parse_affiliates, parse_sports

#: Seconds for one request.
TIMEOUT: Final = 10.0
#: Tries of one request the provider answers 429 (too many requests) to.
_ATTEMPTS: Final = 3
#: The longest a 429's Retry-After is waited.
_LONGEST_WAIT: Final = 5.0
#: How many names a message lists before it says "and N more".
_LISTED: Final = 12


class OnlineError(ArbwatchError):
    """A provider could not be asked, or its answer could not be read; says which and why."""


@dataclass(slots=True)
class _Feed:
    """What one feed's provider answered, and what that means the feed delivers.

    ``books`` and ``sports`` are the names the feed's prices and games will carry.
    """

    settings: FeedSettings
    books: list[str] = field(default_factory=list)
    sports: list[str] = field(default_factory=list)


async def check_online(
    path: Path, env: Mapping[str, str] | None = None, *, timeout: float = TIMEOUT
) -> tuple[bool, list[str]]:
    """Ask the providers of the config at ``path`` about its names.

    Args:
        path: the config file; it must load (run the offline check first).
        env: the environment for ``${VAR}`` (default: ``os.environ``).
        timeout: seconds for one request.

    Returns:
        Whether every name was found, and the lines to print: ``online:`` lines saying
        what each provider has, then every problem as ``FILE:LINE: PATH: why``.

    Raises:
        ConfigError: the config does not load.
    """
    config = load_config(path, env)
    text = read_config_text(path)
    problems = Problems(str(path))
    root = read_yaml(text, os.environ if env is None else env, problems)
    located = _located_feeds(root)
    lines: list[str] = []
    answered: list[_Feed] = []
    failed = False
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        asker = _Asker(client)
        for feed in config.feeds:
            try:
                answer = await asker.feed(feed, located.get(feed.name), problems, lines)
            except OnlineError as error:
                lines.append(f"online: feed {feed.name}: {error}")
                failed = True
            else:
                answered.append(answer)
    if not failed and isinstance(root, MapValue):
        _check_rules(root, answered, problems)
    lines.extend(problems.messages())
    return not failed and not problems, lines


def _located_feeds(root: Value) -> dict[str, MapValue]:
    """The config file's feeds by name, for the lines their names are written on."""
    if not isinstance(root, MapValue):
        return {}
    feeds = [item for item in list_items(root.entries.get("feeds")) if isinstance(item, MapValue)]
    return {name: feed for feed in feeds if (name := text_of(feed.entries.get("name")))}


class _Asker:
    """Asks the providers, each base URL once, and holds each feed to the answers."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._answers: dict[tuple[str, ...], object] = {}

    async def feed(
        self, feed: FeedSettings, written: MapValue | None, problems: Problems, lines: list[str]
    ) -> _Feed:
        """Ask ``feed``'s provider; report what it lacks at the line it is written on."""
        where = f"{_provider_name(feed)} at {redact(feed.base_url)}"
        if isinstance(feed, RapidOddsSettings):
            return await self._rapidodds(feed, written, problems, lines, where)
        return await self._rundown(feed, written, problems, lines, where)

    # --- TheRundown ---

    async def _rundown(
        self,
        feed: RundownSettings,
        written: MapValue | None,
        problems: Problems,
        lines: list[str],
        where: str,
    ) -> _Feed:
        """TheRundown's sports and affiliates, and the feed's ids among them."""
        base = feed.base_url.rstrip("/")
        sports = parse_sports(await self._get(f"{base}/api/v2/sports", {}, where))
        affiliates = parse_affiliates(await self._get(f"{base}/api/v2/affiliates", {}, where))
        lines.append(
            f"online: feed {feed.name}: {where} has {plural(len(sports), 'sport')} "
            f"({_numbered(sports)}) and {plural(len(affiliates), 'book')} "
            f"({_numbered(affiliates)})"
        )
        answer = _Feed(feed)
        ids = feed.sport_ids
        for item in _written_list(written, "sport_ids"):
            sport_id = whole_of(item)
            if sport_id is not None and sport_id not in sports:
                problems.at(item, f"TheRundown has no sport {sport_id} ({where})")
        answer.sports = [sports[sport_id] for sport_id in ids if sport_id in sports]
        wanted = feed.affiliate_ids
        for item in _written_list(written, "affiliate_ids"):
            affiliate = whole_of(item)
            if affiliate is not None and affiliate not in affiliates:
                problems.at(item, f"TheRundown has no affiliate {affiliate} ({where})")
        answer.books = [name for key, name in affiliates.items() if not wanted or key in wanted]
        return answer

    # --- RapidOddsAPI ---

    async def _rapidodds(
        self,
        feed: RapidOddsSettings,
        written: MapValue | None,
        problems: Problems,
        lines: list[str],
        where: str,
    ) -> _Feed:
        """RapidOddsAPI's sports and each of the feed's sports' market keys."""
        base, key = feed.base_url.rstrip("/"), {"api_key": feed.api_key}
        sports = _sport_names(await self._get(f"{base}/sports", key, where, feed.api_key))
        markets: dict[str, set[str]] = {}
        for sport in feed.sports:
            if sport in sports:
                body = await self._get(
                    f"{base}/sports",
                    {**key, "sport": sport, "markets": "true"},
                    where,
                    feed.api_key,
                )
                markets[sport] = _market_keys(body)
        lines.append(
            f"online: feed {feed.name}: {where} has {plural(len(sports), 'sport')}; "
            + "; ".join(
                f"{sport} offers {plural(len(keys), 'market key')}"
                for sport, keys in markets.items()
            )
            + f"; it publishes no list of bookmakers, so {len(feed.bookmakers)} "
            f"{'was' if len(feed.bookmakers) == 1 else 'were'} checked "
            "against the documented list only"
        )
        for item in _written_list(written, "sports"):
            name = text_of(item)
            if name is not None and _spelled(name, feed.sports) not in sports:
                hint = _did_you_mean(name, sports, normalize_sport)
                problems.at(item, f"RapidOddsAPI has no sport {name!r} ({where}){hint}")
        for item in _written_list(written, "market_types"):
            name = text_of(item)
            if name is not None and markets:
                _check_market(item, _spelled(name, feed.market_types), markets, problems)
        answer = _Feed(feed, books=list(feed.bookmakers))
        answer.sports = [
            name for sport in markets for name in dict.fromkeys((sport, sports[sport]))
        ]
        return answer

    # --- requests ---

    async def _get(
        self, url: str, params: Mapping[str, str], where: str, secret: str = ""
    ) -> object:
        """The JSON body of ``GET url?params``, asked once per run.

        A 429 is retried after its Retry-After (bounded); anything else not 200 is an
        `OnlineError` quoting the provider's answer, never the key.
        """
        asked = (url, *sorted(f"{name}={value}" for name, value in params.items()))
        if asked in self._answers:
            return self._answers[asked]
        path = httpx.URL(url).path
        response = await self._request(url, params, where, secret)
        for _ in range(_ATTEMPTS - 1):
            if response.status_code != httpx.codes.TOO_MANY_REQUESTS:
                break
            wait = retry_after_seconds(response)
            await anyio.sleep(min(_LONGEST_WAIT, 1.0 if wait is None else wait))
            response = await self._request(url, params, where, secret)
        if response.status_code != httpx.codes.OK:
            detail = redact(truncate(response.text), [secret])
            raise OnlineError(
                f"{where} answered {path} with HTTP {response.status_code}"
                + (f": {detail}" if detail else "")
            )
        try:
            body: object = response.json()
        except ValueError:
            raise OnlineError(f"{where} answered {path} with something not JSON") from None
        self._answers[asked] = body
        return body

    async def _request(
        self, url: str, params: Mapping[str, str], where: str, secret: str
    ) -> httpx.Response:
        """One ``GET``; a network failure is an `OnlineError` that never quotes the key."""
        try:
            return await self._client.get(url, params=params)
        except httpx.HTTPError as error:
            why = redact(str(error) or type(error).__name__, [secret])
            raise OnlineError(f"cannot reach {where}: {why}") from None


# --- the rules ---------------------------------------------------------------------------


def _check_rules(root: MapValue, feeds: list[_Feed], problems: Problems) -> None:
    """Each book and sport a rule names must be one some feed delivers."""
    books = {book_id(book): book for feed in feeds for book in feed.books}
    sports = {normalize_sport(sport): sport for feed in feeds for sport in feed.sports}
    delivering = "; ".join(f"feed {feed.settings.name}: {_listed(feed.books)}" for feed in feeds)
    watching = _listed(dict.fromkeys(sports.values()))
    for rule in list_items(root.entries.get("rules")):
        if not isinstance(rule, MapValue):
            continue
        written_books = rule.entries.get("books")
        # Excluding a book no feed delivers does no harm; betting into one never happens.
        bet = list_items(
            written_books.entries.get("include")
            if isinstance(written_books, MapValue)
            else written_books
        )
        for item in (*bet, *list_items(rule.entries.get("sharp"))):
            name = text_of(item)
            if name is not None and book_id(name) not in books:
                hint = _did_you_mean(name, books.values(), book_id)
                problems.at(item, f"no feed delivers {name!r} ({delivering}){hint}")
        for item in list_items(rule.entries.get("sports")):
            name = text_of(item)
            if name is not None and normalize_sport(name) not in sports:
                hint = _did_you_mean(name, sports.values(), normalize_sport)
                problems.at(item, f"no feed's games carry sport {name!r} ({watching}){hint}")


def _check_market(
    item: Value, key: str, markets: Mapping[str, set[str]], problems: Problems
) -> None:
    """A market key must be offered for at least one of the feed's sports (warn if not all)."""
    offering = [sport for sport, keys in markets.items() if key in keys]
    if not offering:
        offered = {market for keys in markets.values() for market in keys}
        hint = _did_you_mean(key, offered, str.casefold)
        problems.at(
            item,
            f"RapidOddsAPI offers {key!r} for none of the feed's sports "
            f"({', '.join(markets)}){hint or f' (they offer {_listed(sorted(offered))})'}",
        )


# --- reading the answers -----------------------------------------------------------------


def _sport_names(body: object) -> dict[str, str]:
    """RapidOddsAPI's ``/sports``: sport id -> display name; malformed entries skipped."""
    if not isinstance(body, list):
        raise OnlineError("RapidOddsAPI's /sports is not a list of sports")
    return {
        entry["id"]: str(entry.get("name") or entry["id"])
        for entry in body
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    }


def _market_keys(body: object) -> set[str]:
    """The keys of ``/sports?sport=X&markets=true``, every group of them."""
    markets = body.get("markets") if isinstance(body, dict) else None
    if not isinstance(markets, dict):
        raise OnlineError("RapidOddsAPI's /sports?markets=true names no markets")
    return {
        key for group in markets.values() if isinstance(group, list) for key in group
        if isinstance(key, str)
    }  # fmt: skip


# --- words -------------------------------------------------------------------------------


def _provider_name(feed: FeedSettings) -> str:
    """``TheRundown`` or ``RapidOddsAPI``."""
    return provider_of(feed).title


def _written_list(feed: MapValue | None, key: str) -> tuple[Value, ...]:
    """The items of the list ``key`` of a feed as written (none if it is not known)."""
    return list_items(feed.entries.get(key)) if feed is not None else ()


def _spelled(written: str, spellings: Iterable[str]) -> str:
    """``written`` as the loader spelled it for the wire (case and spacing aside)."""
    form = written.strip().casefold()
    return next((name for name in spellings if name.casefold() == form), written.strip())


def _did_you_mean(written: str, names: Iterable[str], form: Callable[[str], str]) -> str:
    """``, did you mean 'X'?`` for the closest of ``names`` (compared in ``form``), or ''."""
    by_form = {form(name): name for name in names}
    close = difflib.get_close_matches(form(written), sorted(by_form), n=1, cutoff=NEAR_MISS)
    return f", did you mean {by_form[close[0]]!r}?" if close else ""


def _numbered(names: Mapping[int, str]) -> str:
    """``2 NFL, 4 NBA`` (cut short after a dozen)."""
    return _listed([f"{key} {name}" for key, name in sorted(names.items())])


def _listed(names: Iterable[str]) -> str:
    """Names joined by commas, cut short after a dozen; ``none`` for none."""
    shown = list(names)
    if not shown:
        return "none"
    more = len(shown) - _LISTED
    return ", ".join(shown[:_LISTED]) + (f" and {more} more" if more > 0 else "")
