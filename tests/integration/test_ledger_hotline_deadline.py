"""A 12345 order's 承办时限 caps the entry's deadline: the earlier of the ledger's own and the order's wins."""

# ruff: noqa: F811 - the `client` fixture is imported from test_ledger_actions and used as a parameter

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.ledger import handlers, service
from tests.integration.test_ledger_actions import NOW, PARTY, client, feed, token, triaged  # noqa: F401

pytestmark = pytest.mark.integration


def entry(client, matter_id: str) -> dict:
    r = client.get(f"/v1/entries/{service.entry_id_for(matter_id)}", headers=token("party_org", PARTY))
    assert r.status_code == 200, r.text
    return r.json()


def test_an_earlier_order_deadline_wins_and_a_later_one_does_not(client):
    soon = (NOW + dt.timedelta(days=1)).replace(microsecond=0)
    early = f"mat_{uuid.uuid4().hex[:10]}"
    feed(
        client,
        handlers.on_matter_triaged,
        "matter.triaged.v1",
        triaged(early).model_copy(update={"due_by": soon}),
        early,
    )
    e = entry(client, early)
    assert dt.datetime.fromisoformat(e["deadline"]) == soon
    # The deadline's own note (a deadline a day away may also draw an immediate 临期预警 after it).
    assert any("12345工单承办时限" in (t["note"] or "") for t in e["timeline"])

    late = f"mat_{uuid.uuid4().hex[:10]}"
    far = NOW + dt.timedelta(days=60)
    feed(
        client, handlers.on_matter_triaged, "matter.triaged.v1", triaged(late).model_copy(update={"due_by": far}), late
    )
    e = entry(client, late)
    assert dt.datetime.fromisoformat(e["deadline"]) < far
    assert not any("12345" in (t["note"] or "") for t in e["timeline"])
    # A second order joins the matter with an earlier 承办时限: the deadline moves up, and the timeline says so.
    data = triaged(late).model_copy(update={"due_by": soon, "households": 2})
    feed(client, handlers.on_matter_triaged, "matter.triaged.v1", data, late)
    e = entry(client, late)
    assert dt.datetime.fromisoformat(e["deadline"]) == soon
    assert any("办结时限提前" in (t["note"] or "") for t in e["timeline"])
