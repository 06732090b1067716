"""The message-graph ceiling of the benchmark runs over the services' real queues and counts every report."""

from __future__ import annotations

import pytest

from bench import graph
from services.intake.app import subscriptions as intake_subscriptions

pytestmark = pytest.mark.integration


async def test_graph_ceiling_carries_every_report_through_the_real_queues(hall_env):
    result = await graph.measure(hall_env.amqp_url, n=60, window=16)
    assert result["complete"] and result["reports"] == 60
    assert result["reports_per_s"] > 0 and result["cpu_ms_per_report"] > 0
    # The queues are the services' own, not a copy that could drift from them.
    assert result["queues"]["intake"] == [s.spec.name for s in intake_subscriptions(hall_env)]
    assert set(result["queues"]) == set(graph.SERVICES) and all(result["queues"].values())
