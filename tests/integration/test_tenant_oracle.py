"""No existence oracle across communities: another community's matter, session, revisit or vote answers exactly
like an id that does not exist (same status, same body), on every staff route of feedback and meeting that takes
one. The routes come from the code, so a new route fails here until it is taught a body.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from services.feedback import handlers as feedback_handlers
from services.feedback.app import spec as feedback_spec
from services.meeting.app import spec as meeting_spec
from services.runtime.auth import mint
from services.runtime.authz import MATRIX
from services.runtime.service import create_app
from tests.integration.test_feedback_api import completed
from tests.integration.test_meeting_api import seed as seed_meeting
from tests.integration.test_meeting_api import triaged as meeting_triaged
from tools.authz_doc import collect

pytestmark = pytest.mark.integration

A, B = "jinshan", "xueyuan"
IDS = ("matter_id", "session_id", "revisit_id", "vote_id")
# The public WeChat-vote results page takes a matter id by design (anyone holding the link sees the tallies).
PUBLIC = {("GET", "/v1/wechat-votes/{matter_id}"), ("GET", "/v1/votes/{matter_id}")}
FUTURE = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).replace(microsecond=0).isoformat()
BODIES = {
    ("POST", "/v1/matters/{matter_id}/evaluations"): {
        "household": "景湖花园7-1-101",
        "rating": "satisfied",
        "method": "home_visit",
        "evidence": {"signature": "sig/2025/06/abc.png"},
    },
    ("POST", "/v1/matters/{matter_id}/forum"): {
        "held_at": "2025-06-10T19:30:00+08:00",
        "place": "党群服务站",
        "evaluations": [{"household": "景湖花园7-1-101", "rating": "satisfied"}],
    },
    ("GET", "/v1/matters/{matter_id}/evaluations"): None,
    ("PATCH", "/v1/revisits/{revisit_id}"): {"assignee": "grid-wang"},
    ("POST", "/v1/matters/{matter_id}/questionnaire-links"): {"households": ["景湖花园7-1-101"]},
    ("POST", "/v1/matters/{matter_id}/owner-votes"): {
        "community": B,
        "question": "是否调整停车收费",
        "item": 4,
        "total_area_m2": "300",
        "total_owners": 3,
    },
    ("POST", "/v1/owner-votes/{vote_id}/ballots"): {"household": "景湖花园7-1-101", "area_m2": "98.5", "choice": "for"},
    ("POST", "/v1/owner-votes/{vote_id}/links"): {"owners": [{"household": "景湖花园7-1-101", "area_m2": "100"}]},
    ("POST", "/v1/owner-votes/{vote_id}/close"): None,
    ("GET", "/v1/owner-votes/{vote_id}"): None,
    ("GET", "/v1/sessions/{session_id}"): None,
    ("GET", "/v1/matters/{matter_id}/tier"): None,
    ("POST", "/v1/matters/{matter_id}/tier"): {"tier": "community", "reason": "党委研究"},
    ("POST", "/v1/sessions/{session_id}/conclude"): {"attendance": {}, "resolutions": []},
    ("POST", "/v1/sessions/{session_id}/cancel"): {"reason": "天气原因"},
    ("POST", "/v1/sessions/{session_id}/agenda"): {"op": "pin", "matter_id": "{matter_id}"},
    ("PUT", "/v1/sessions/{session_id}/agenda"): {"matter_ids": ["{matter_id}"]},
    ("POST", "/v1/sessions/{session_id}/reschedule"): {"starts_at": FUTURE, "reason": "场地冲突"},
    # Not a path id, but a matter id all the same: convening a site inspection for a matter.
    ("POST", "/v1/sessions"): {"matter_id": "{matter_id}", "kind": "site_inspection"},
}


def routes(service: str) -> list:
    """Staff routes of a service that take one of the ids (from the code)."""
    out = []
    for r in collect():
        if r.service != service or (r.method, r.path) in PUBLIC:
            continue
        if set(re.findall(r"{(\w+)}", r.path)) & set(IDS) or (r.method, r.path) == ("POST", "/v1/sessions"):
            assert (r.method, r.path) in BODIES, f"teach this test a body for {r.method} {r.path}"
            out.append(r)
    return out


def outsider(action: str) -> dict:
    """Staff of community B holding a role that may take the action."""
    roles = MATRIX[action.split(",")[0]]
    role = "party_org" if "party_org" in roles else next(r for r in roles if r != "county_operator")
    return {"Authorization": f"Bearer {mint(sub=f'{role}-b', role=role, communities=[B])}"}


def staff(role: str = "party_org") -> dict:
    return {"Authorization": f"Bearer {mint(sub=f'{role}-a', role=role, communities=[A])}"}


def fill(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def unknown_like(ids: dict) -> dict:
    """Ids of the same shape that exist nowhere."""
    return {k: re.sub(r"[0-9a-f]{8,}$", lambda m: uuid.uuid4().hex[: len(m[0])], v) for k, v in ids.items()}


def answer(client: TestClient, route, path_ids: dict) -> tuple[int, dict]:
    path = route.path
    for name, value in path_ids.items():
        path = path.replace("{" + name + "}", value)
    body = fill(BODIES[(route.method, route.path)], path_ids)
    r = client.request(route.method, path, json=body, headers=outsider(route.action))
    doc = r.json()
    doc.pop("instance", None)  # names the requested path, which the caller knows already
    return r.status_code, doc


def walk(client: TestClient, service: str, ids: dict) -> int:
    walked = 0
    for route in routes(service):
        foreign = answer(client, route, ids)
        unknown = answer(client, route, unknown_like(ids))
        assert foreign[0] == 404, f"{route.method} {route.path}: another community's id answers {foreign}"
        assert foreign == unknown, f"{route.method} {route.path}: {foreign} != {unknown} for an unknown id"
        walked += 1
    return walked


@pytest.fixture
def feedback(hall_env, tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}")
    with TestClient(create_app(feedback_spec())) as c:
        yield c


def test_feedback_answers_another_communitys_ids_like_unknown_ones(feedback):
    matter = f"mat_{uuid.uuid4().hex[:20]}"
    ctx = feedback.app.state.ctx
    env, data = completed(matter, community=A)
    t_env, triaged = meeting_triaged(matter, community=A, compound="jinghuhuayuan")

    async def seed() -> None:
        async with ctx.bus.uow(cause=t_env) as uow:
            await feedback_handlers.on_matter_triaged(uow, t_env, triaged)
            await uow.commit()
        async with ctx.bus.uow(cause=env) as uow:
            await feedback_handlers.on_entry_completed(uow, env, data)
            await uow.commit()

    feedback.portal.call(seed)
    [revisit] = [v for v in feedback.get("/v1/revisits", headers=staff()).json()["items"] if v["matter_id"] == matter]
    vote = feedback.post(
        f"/v1/matters/{matter}/owner-votes",
        json={**BODIES[("POST", "/v1/matters/{matter_id}/owner-votes")], "community": A},
        headers=staff(),
    )
    assert vote.status_code == 201, vote.text
    ids = {"matter_id": matter, "revisit_id": revisit["id"], "vote_id": vote.json()["vote_id"]}
    assert walk(feedback, "feedback", ids) >= 9
    # Nothing of A changed.
    assert feedback.get(f"/v1/owner-votes/{ids['vote_id']}", headers=staff()).json()["status"] == "open"
    assert feedback.get(f"/v1/matters/{matter}/evaluations", headers=staff()).json()["evaluations"] == []


@pytest.fixture
def meeting(hall_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MEETING_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'meeting.db'}")
    with TestClient(create_app(dataclasses.replace(meeting_spec(), periodic=lambda _ctx: []))) as c:
        yield c


def test_meeting_answers_another_communitys_ids_like_unknown_ones(meeting):
    matter = f"mat_{uuid.uuid4().hex[:20]}"
    seed_meeting(meeting, meeting_triaged(matter, level="red", community=A, compound="jinghuhuayuan"))
    sessions = meeting.get("/v1/sessions", params={"community": A}, headers=staff()).json()["items"]
    session = next(s for s in sessions if s["status"] == "scheduled")
    ids = {"matter_id": matter, "session_id": session["id"]}
    assert walk(meeting, "meeting", ids) >= 5
    assert meeting.get(f"/v1/sessions/{session['id']}", headers=staff()).json()["status"] == "scheduled"
