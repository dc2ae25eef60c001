"""TheRundown's data-point headers reach the feed's stats, where the health alerts read them."""

from __future__ import annotations

import pytest

from arbwatch.feeds.connection import FeedState
from arbwatch.sim.rundown import TIERS
from tests.integration.test_rundown_feed import make_sim, running, wait_until

pytestmark = pytest.mark.anyio


async def test_the_data_points_left_and_the_plans_allowance_are_kept() -> None:
    setup = make_sim()
    async with running(setup) as run:
        await wait_until(lambda: run.feed.stats.state is FeedState.UP)
        extra = run.feed.stats.extra
        await wait_until(lambda: "datapoints_remaining" in extra)
        limit = next(iter(setup.sim.keys.values())).plan.datapoints
        assert extra["datapoints_limit"] == limit
        # The snapshot cost data points: fewer are left than the plan allows.
        assert 0 < extra["datapoints_remaining"] < limit
        assert limit in {tier.datapoints for tier in TIERS.values()}
