"""The load benchmark as a (slow) test: a burst of 50 questions, nothing lost."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.promise
@pytest.mark.timeout(300)
def test_burst_is_fully_answered_or_refused() -> None:
    from bench.discord_load import run

    result = run(quick=True)
    scenario = result["scenarios"]["default_limits"]
    assert result["lost"] == 0
    assert sum(scenario["outcomes"].values()) == 50
    assert scenario["outcomes"]["error"] == 0
    assert scenario["outcomes"]["answered"] >= 1
    assert scenario["heartbeat"]["ping_rtt_ms"]["max"] < 500
