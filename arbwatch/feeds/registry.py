"""The providers arbwatch speaks, one record each: whatever names a provider reads it here.

Config loading (which ``provider:`` names exist, and the settings each one takes),
``show-config`` (what a feed watches), the daemon (which driver runs a feed), status and
health alerts (how a provider is named, what its allowance counts) and replay (which
session reads a recorded frame) loop over `PROVIDERS` instead of naming providers. Adding
a provider is a package under `arbwatch.feeds` and one record here.

The name is one spelling everywhere: ``therundown_v1`` in the config, in status and in
recordings (recordings made before spelled it ``therundown-v1`` and still replay).

Cheap to import, since config loading imports it: settings, sessions and replayers are
pure. A driver brings httpx, httpx-ws and anyio, so each factory imports its driver when
a feed is built (see `_rapidodds_driver`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from arbwatch.core.words import plural
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.rapidodds.replayer import RapidOddsReplayer
from arbwatch.feeds.rapidodds.session import RapidOddsSession
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.rapidodds.wire import PROVIDER as RAPIDODDS_NAME
from arbwatch.feeds.recording import FrameRecorder, FrameReplayer
from arbwatch.feeds.therundown.replayer import RundownReplayer
from arbwatch.feeds.therundown.session import RundownSession
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.v1 import (
    V1_PROVIDER,
    V1_PROVIDER_BEFORE,
    RundownV1Session,
    RundownV1Settings,
)
from arbwatch.feeds.therundown.wire import PROVIDER as THERUNDOWN_NAME

if TYPE_CHECKING:
    # Types only: importing them would load anyio, which config loading does without.
    from anyio.streams.memory import MemoryObjectSendStream

    from arbwatch.feeds.base import Allowance, FeedBatch
    from arbwatch.feeds.connection import FeedStats

#: A feed's settings, whichever its provider (`RundownV1Settings` is a `RundownSettings`).
FeedSettings = RapidOddsSettings | RundownSettings

_S = TypeVar("_S", RapidOddsSettings, RundownSettings, RundownV1Settings)


class Feed(Protocol):
    """A running feed, as the daemon sees it: one provider's driver."""

    #: The provider's name (`Provider.name`), for status and metrics.
    provider: str
    stats: FeedStats

    def allowance(self) -> Allowance:
        """The plan's credits or data points, as far as the provider said."""
        ...

    async def run(self, out: MemoryObjectSendStream[FeedBatch]) -> None:
        """Send batches to ``out`` until cancelled or failed for good."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider(Generic[_S]):
    """One provider: its name, its settings, and how a feed of it is built and replayed.

    Attributes:
        name: ``provider:`` in the config, and the provider of recorded frames.
        title: how texts name it ("TheRundown").
        allowance: what its plan counts ("credits", "data points").
        settings: the settings class; the config loader reads a feed's keys by its fields,
            and it refuses what cannot work with `arbwatch.feeds.base.SettingsError`.
        watches: show-config's summary of what one feed of it watches.
        driver: builds the feed that runs the settings, on the shared event identity,
            recording its traffic to the recorder when one is given.
        replayer: the pure session that reads a recorded feed's frames again, given the
            shared identity and the feed's name.
        recorded_as: other names its frames were recorded under.
    """

    name: str
    title: str
    allowance: str
    settings: type[_S]
    watches: Callable[[_S], str]
    driver: Callable[[_S, EventIdentity, FrameRecorder | None], Feed]
    replayer: Callable[[EventIdentity, str], FrameReplayer]
    recorded_as: frozenset[str] = frozenset()


def _ids(numbers: tuple[int, ...]) -> str:
    """``1, 2, 3``."""
    return ", ".join(str(number) for number in numbers)


def _rapidodds_watches(feed: RapidOddsSettings) -> str:
    return (
        f"sports {', '.join(feed.sports)}; {plural(len(feed.bookmakers), 'bookmaker')}; "
        f"markets {', '.join(feed.market_types)}"
    )


def _rundown_watches(feed: RundownSettings) -> str:
    scope = [f"sport_ids {_ids(feed.sport_ids)}"] if feed.sport_ids else []
    if isinstance(feed, RundownV1Settings) and feed.event_ids:
        scope.append(f"event_ids {', '.join(feed.event_ids)}")
    books = f"affiliate_ids {_ids(feed.affiliate_ids)}" if feed.affiliate_ids else "all books"
    return f"{'; '.join(scope)}; market_ids {_ids(feed.market_ids)}; {books}"


# The drivers are imported when a feed is built, not with the registry: they load httpx,
# httpx-ws and anyio (together about 0.2 s on a quiet machine), which loading a config,
# show-config, status and replay never use.


def _rapidodds_driver(
    settings: RapidOddsSettings, identity: EventIdentity, recorder: FrameRecorder | None
) -> Feed:
    from arbwatch.feeds.rapidodds.driver import RapidOddsFeed  # noqa: PLC0415

    return RapidOddsFeed(settings, identity, recorder=recorder)


def _rundown_driver(
    settings: RundownSettings, identity: EventIdentity, recorder: FrameRecorder | None
) -> Feed:
    from arbwatch.feeds.therundown.driver import RundownFeed  # noqa: PLC0415

    return RundownFeed(settings, identity, recorder=recorder)


def _rundown_v1_driver(
    settings: RundownV1Settings, identity: EventIdentity, recorder: FrameRecorder | None
) -> Feed:
    from arbwatch.feeds.therundown.v1_driver import RundownV1Feed  # noqa: PLC0415

    return RundownV1Feed(settings, identity, recorder=recorder)


RAPIDODDS: Final = Provider(
    name=RAPIDODDS_NAME,
    title="RapidOddsAPI",
    allowance="credits",
    settings=RapidOddsSettings,
    watches=_rapidodds_watches,
    driver=_rapidodds_driver,
    replayer=lambda identity, feed: RapidOddsReplayer(RapidOddsSession(identity, feed=feed)),
)
THERUNDOWN: Final = Provider(
    name=THERUNDOWN_NAME,
    title="TheRundown",
    allowance="data points",
    settings=RundownSettings,
    watches=_rundown_watches,
    driver=_rundown_driver,
    replayer=lambda identity, feed: RundownReplayer(RundownSession(feed, identity)),
)
THERUNDOWN_V1: Final = Provider(
    name=V1_PROVIDER,
    title="TheRundown",
    allowance="data points",
    settings=RundownV1Settings,
    watches=_rundown_watches,
    driver=_rundown_v1_driver,
    replayer=lambda identity, feed: RundownReplayer(RundownV1Session(feed, identity)),
    recorded_as=frozenset({V1_PROVIDER_BEFORE}),
)

#: Every provider, by name, in the order the config's messages list them.
PROVIDERS: Final[Mapping[str, Provider[Any]]] = MappingProxyType(
    {provider.name: provider for provider in (RAPIDODDS, THERUNDOWN, THERUNDOWN_V1)}
)


def provider_of(settings: FeedSettings) -> Provider[Any]:
    """The provider a feed's settings were built for."""
    return next(p for p in PROVIDERS.values() if type(settings) is p.settings)


def recorded_provider(name: str) -> Provider[Any] | None:
    """The provider whose frames were recorded as ``name``; None for one unknown here."""
    known = PROVIDERS.get(name)
    if known is not None:
        return known
    return next((p for p in PROVIDERS.values() if name in p.recorded_as), None)
