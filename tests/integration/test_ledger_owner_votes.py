"""Owners' votes reach the ledger: the result in words on the entry's timeline, even when held before the session."""

# ruff: noqa: F811 - the `client` fixture is imported from test_ledger_actions and used as a parameter

from __future__ import annotations

import uuid

import pytest

from services.contracts import events
from services.ledger import handlers, ownervotes, service
from tests.integration.test_ledger_actions import (  # noqa: F401 - fixtures
    NOW,
    PARTY,
    client,
    feed,
    token,
    triaged,
)
from tests.integration.test_ledger_commitments import concluded

pytestmark = pytest.mark.integration


def result(matter_id: str, *, item: int = 5, passed: bool = True) -> events.OwnerVoteClosed:
    return events.OwnerVoteClosed(
        vote_id=f"ovt_{uuid.uuid4().hex[:12]}",
        matter_id=matter_id,
        item=item,
        rule="major" if item in (6, 7, 8) else "ordinary",
        question="是否使用维修资金更换12号楼2单元共用排水管（张三 13800138000）",
        passed=passed,
        participation_met=True,
        total_owners=14,
        voted_owners=12,
        for_owners=9,
        total_area_m2="1260.00",
        voted_area_m2="1080.00",
        for_area_m2="810.00",
        closed_at=NOW,
    )


def notes(client, matter_id: str) -> list[str]:
    r = client.get(f"/v1/entries/{service.entry_id_for(matter_id)}", headers=token("party_org", PARTY))
    assert r.status_code == 200, r.text
    return [t["note"] or "" for t in r.json()["timeline"]]


def test_a_vote_on_a_matter_with_an_entry_is_on_its_timeline_in_words(client):
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", triaged(matter_id), matter_id)
    feed(client, ownervotes.on_owner_vote_closed, "owner_vote.closed.v1", result(matter_id), matter_id)
    (note,) = [n for n in notes(client, matter_id) if n.startswith("业主共同决定")]
    assert "第（五）项" in note and "须过半数同意" in note and "表决通过" in note
    assert "参与表决 12/14 户" in note and "同意 9 户、810.00 平方米" in note
    assert "13800138000" not in note  # staff free text is scrubbed


def test_a_vote_held_before_the_session_reaches_the_entry_it_opens(client):
    matter_id = f"mat_{uuid.uuid4().hex[:10]}"
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", triaged(matter_id, "deliberate"), matter_id)
    feed(
        client,
        ownervotes.on_owner_vote_closed,
        "owner_vote.closed.v1",
        result(matter_id, item=7, passed=False),
        matter_id,
    )
    assert (
        client.get(f"/v1/entries/{service.entry_id_for(matter_id)}", headers=token("party_org", PARTY)).status_code
        == 404
    )
    feed(client, handlers.on_session_concluded, "session.concluded.v1", concluded(matter_id, []), "ses_site")
    voted = [n for n in notes(client, matter_id) if n.startswith("业主共同决定")]
    assert len(voted) == 1 and "第（七）项" in voted[0] and "须四分之三以上同意" in voted[0] and "未通过" in voted[0]
    # The kept note is spent: a later conclusion of the same matter does not repeat it.
    feed(client, handlers.on_session_concluded, "session.concluded.v1", concluded(matter_id, []), "ses_site")
    assert len([n for n in notes(client, matter_id) if n.startswith("业主共同决定")]) == 1
