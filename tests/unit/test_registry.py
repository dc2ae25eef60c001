"""The providers' registry: one record per provider, read by config, daemon, status, replay."""

import subprocess
import sys

import pytest

from arbwatch.config.load import FEED_KEYS
from arbwatch.daemon import build_feed
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.registry import (
    PROVIDERS,
    RAPIDODDS,
    THERUNDOWN,
    THERUNDOWN_V1,
    FeedSettings,
    provider_of,
    recorded_provider,
)
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.v1 import RundownV1Settings
from arbwatch.health import allowance

RAPID = RapidOddsSettings(
    name="rapid",
    api_key="oa_k",
    sports=("NBA",),
    bookmakers=("Pinnacle",),
    market_types=("head_to_head",),
)
LEGACY = RundownV1Settings(name="v1", api_key="k", event_ids=("abc",))
SETTINGS: dict[str, FeedSettings] = {
    RAPIDODDS.name: RAPID,
    THERUNDOWN.name: RundownSettings(name="trd", api_key="k", sport_ids=(4,)),
    THERUNDOWN_V1.name: LEGACY,
}


def test_the_config_takes_exactly_the_registered_providers() -> None:
    assert set(FEED_KEYS) == set(PROVIDERS) == {"rapidoddsapi", "therundown", "therundown_v1"}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_provider_builds_its_driver_which_names_it(name: str) -> None:
    provider = PROVIDERS[name]
    settings = SETTINGS[name]
    assert provider_of(settings) is provider
    feed = build_feed(settings, EventIdentity())
    assert feed.provider == name
    assert feed.stats.name == settings.name
    assert allowance(name) == (provider.title, provider.allowance)


def test_show_config_words_come_from_the_registry() -> None:
    assert RAPIDODDS.watches(RAPID) == "sports NBA; 1 bookmaker; markets head_to_head"
    assert THERUNDOWN_V1.watches(LEGACY) == ("event_ids abc; market_ids 1, 2, 3; all books")


def test_recordings_name_providers_as_the_config_does_and_the_old_v1_spelling_reads() -> None:
    assert recorded_provider("therundown_v1") is THERUNDOWN_V1
    assert recorded_provider("therundown-v1") is THERUNDOWN_V1
    assert recorded_provider("therundown") is THERUNDOWN
    assert recorded_provider("someday") is None


def test_every_provider_is_a_record_with_a_unique_name() -> None:
    assert all(p.name == name for name, p in PROVIDERS.items())
    spellings = [name for p in PROVIDERS.values() for name in (p.name, *p.recorded_as)]
    assert len(spellings) == len(set(spellings))


def test_importing_the_config_loader_and_replay_loads_no_driver_and_no_apprise() -> None:
    # The drivers (httpx, httpx-ws, anyio) are imported when a feed is built, and apprise
    # when the first channel URL is checked: importing the loader or replay pays neither.
    code = (
        "import sys, arbwatch.config.load, arbwatch.feeds.replay\n"
        "heavy = ('httpx', 'httpx_ws', 'anyio', 'apprise')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "drivers = sorted(m for m in sys.modules if m.endswith(('.driver', '.v1_driver')))\n"
        "print(loaded, drivers)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[] []"
