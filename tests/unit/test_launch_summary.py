"""The launcher's start-up summary names the dead letters each service holds and how to inspect them."""

from __future__ import annotations

import pytest

from services.runtime.launch import dead_letter_lines

pytestmark = pytest.mark.unit


def test_no_dead_letters_is_said_in_one_line():
    assert dead_letter_lines(
        {"intake": {"intake.channels": 0, "intake.status": 0}, "ledger": {"ledger.events": 0}}
    ) == ["  dead letters: intake 0, ledger 0"]


def test_each_holding_queue_gets_its_inspect_and_replay_commands():
    lines = dead_letter_lines(
        {"triage": {"triage.reports": 2, "triage.matters": 15}, "meeting": {"meeting.matters": 0}}
    )
    assert lines[0] == "  dead letters: triage 17, meeting 0"
    assert "triage.reports.dlq holds 2: python -m services.triage dlq list --queue triage.reports" in lines[1]
    assert "(replay: python -m services.triage dlq replay --queue triage.matters)" in lines[2]
    assert "docs/operations.md" in lines[-1]


def test_a_service_that_could_not_count_is_marked_not_hidden():
    assert dead_letter_lines({"feedback": None}) == ["  dead letters: feedback ?"]
    assert dead_letter_lines({}) == []
