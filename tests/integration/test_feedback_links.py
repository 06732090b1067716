"""Feedback's residents' links, WeChat votes, forums, revisit plans and owners' votes, through the running app."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from services.feedback import handlers
from services.feedback.app import spec
from services.feedback.questionnaire import signer
from services.runtime.auth import mint
from services.runtime.links import LinkSigner
from services.runtime.service import create_app
from tests.integration.test_feedback_api import completed

pytestmark = pytest.mark.integration

HOUSES = [f"景湖花园7-1-{n}01" for n in range(1, 7)]


@pytest.fixture
def client(hall_env, tmp_path, monkeypatch):
    """The feedback app with its lifespan running (migrations, consumers, relay)."""
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}")
    with TestClient(create_app(spec())) as c:
        yield c


def seed(client: TestClient, matter: str, **kw) -> None:
    """Plan a revisit through the handler, in the app's own event loop."""
    ctx = client.app.state.ctx
    env, data = completed(matter, **kw)

    async def run() -> None:
        async with ctx.bus.uow(cause=env) as uow:
            await handlers.on_entry_completed(uow, env, data)
            await uow.commit()

    client.portal.call(run)


def known_matter(client: TestClient, matter: str, community: str = "jinshan") -> None:
    """Let feedback know the matter (matter.triaged.v1): votes are opened on known matters only."""
    from tests.integration.test_meeting_api import triaged

    ctx = client.app.state.ctx
    env, data = triaged(matter, community=community, compound="jinghuhuayuan")

    async def run() -> None:
        async with ctx.bus.uow(cause=env) as uow:
            await handlers.on_matter_triaged(uow, env, data)
            await uow.commit()

    client.portal.call(run)


def auth(role: str = "party_org", communities: tuple[str, ...] = ("jinshan",), sub: str | None = None) -> dict:
    return {"Authorization": f"Bearer {mint(sub=sub or f'{role}-1', role=role, communities=list(communities))}"}


def links(client: TestClient, matter: str, houses: list[str], **kw) -> list[str]:
    resp = client.post(
        f"/v1/matters/{matter}/questionnaire-links", json={"households": houses, **kw}, headers=auth("grid_worker")
    )
    assert resp.status_code == 201, resp.text
    return [link["path"] for link in resp.json()["links"]]


def answer(client: TestClient, path: str, rating: str = "satisfied", **kw):
    return client.post(path, json={"rating": rating, **kw})


# --------------------------------------------------------------------------- questionnaires


def test_questionnaire_link_shows_the_form_and_records_once(client):
    seed(client, "mat_q", households=6)
    [path, *_] = links(client, "mat_q", HOUSES)
    assert path.startswith("/v1/q/")
    form = client.get(path)
    assert form.status_code == 200, form.text
    body = form.json()
    assert body["matter_id"] == "mat_q" and body["round"] == 1 and body["method"] == "questionnaire"
    assert [f["name"] for f in body["form"]] == ["rating", "solved", "comment"]
    assert "景湖花园7-1" not in form.text  # the household's address is not in the page
    first = answer(client, path, solved="solved", comment="灯亮了")
    assert first.status_code == 201, first.text
    assert "round_rate" not in first.json()  # residents never see how others voted
    again = answer(client, path, rating="unsatisfied")
    assert again.status_code == 409 and "已使用" in again.json()["detail"]
    assert client.get(path).status_code == 409
    got = client.get("/v1/matters/mat_q/evaluations", headers=auth()).json()
    [ev] = got["evaluations"]
    assert ev["method"] == "questionnaire" and ev["rating"] == "satisfied" and ev["household_ref"].startswith("hh_")


def test_forged_link_is_404_without_a_hint(client):
    seed(client, "mat_q")
    [path] = links(client, "mat_q", HOUSES[:1])
    token = path.rsplit("/", 1)[1]
    flipped = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    other_key = LinkSigner([b"someone-else-key-0123"]).issue(
        purpose="feedback.questionnaire", subject="mat_q", audience="hh_x", ttl=dt.timedelta(hours=1)
    )[0]
    for bad in (flipped, other_key, "not-a-token-at-all"):
        for resp in (client.get(f"/v1/q/{bad}"), answer(client, f"/v1/q/{bad}")):
            assert resp.status_code == 404
            assert resp.json()["detail"] == "未找到"
    assert client.get("/v1/matters/mat_q/evaluations", headers=auth()).json()["evaluations"] == []


def test_expired_link_is_410(client):
    seed(client, "mat_q")
    token, _ = signer().issue(
        purpose="feedback.questionnaire",
        subject="mat_q",
        audience="hh_late",
        ttl=dt.timedelta(hours=1),
        now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
    )
    assert client.get(f"/v1/q/{token}").status_code == 410
    assert answer(client, f"/v1/q/{token}").status_code == 410


def test_link_works_only_on_its_own_matter(client):
    seed(client, "mat_a")
    seed(client, "mat_b")
    [path] = links(client, "mat_a", HOUSES[:1])
    assert answer(client, path).status_code == 201
    a = client.get("/v1/matters/mat_a/evaluations", headers=auth()).json()["evaluations"]
    b = client.get("/v1/matters/mat_b/evaluations", headers=auth()).json()["evaluations"]
    assert len(a) == 1 and b == []
    # A link minted for a matter without an open round cannot be used there.
    token, _ = signer().issue(
        purpose="feedback.questionnaire", subject="mat_none", audience="hh_x", ttl=dt.timedelta(hours=1)
    )
    assert answer(client, f"/v1/q/{token}").status_code == 409


def test_one_household_one_voice_across_links_and_staff(client):
    seed(client, "mat_q", households=6)
    p1, p2 = links(client, "mat_q", HOUSES[:1]) + links(client, "mat_q", HOUSES[:1])
    assert answer(client, p1).status_code == 201
    # Inviting a household did not shrink the round: 6 affected, so one voice leaves it pending.
    assert client.get("/v1/matters/mat_q/evaluations", headers=auth()).json()["outcome"] == "pending"
    dup = answer(client, p2)
    assert dup.status_code == 409 and "一户一票" in dup.json()["detail"]
    # The failed answer did not use up the second link's nonce.
    assert client.get(p2).status_code == 200
    staff = client.post(
        "/v1/matters/mat_q/evaluations",
        json={"household": HOUSES[0], "rating": "unsatisfied", "method": "questionnaire"},
        headers=auth("grid_worker"),
    )
    assert staff.status_code == 409


def test_issuing_links_checks_role_scope_and_input(client):
    seed(client, "mat_q")
    body = {"households": HOUSES[:2]}
    url = "/v1/matters/mat_q/questionnaire-links"
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=auth("property_company")).status_code == 403
    assert client.post(url, json=body, headers=auth("party_org", ("xueyuan",))).status_code == 404
    assert client.post(url, json={"households": []}, headers=auth()).status_code == 422
    assert client.post(url, json={"households": ["x"] * 501}, headers=auth()).status_code == 422
    assert client.post(url, json={**body, "expires_hours": 0}, headers=auth()).status_code == 422
    assert client.post(url, json={"households": [HOUSES[0], HOUSES[0]]}, headers=auth()).status_code == 422
    # Unknown to this service: 404, exactly as another community's matter answers (test_tenant_oracle.py).
    assert client.post("/v1/matters/mat_none/questionnaire-links", json=body, headers=auth()).status_code == 404


# --------------------------------------------------------------------------- WeChat votes


def test_wechat_vote_counts_are_public_only_once_closed(client):
    seed(client, "mat_w", households=2)
    paths = links(client, "mat_w", HOUSES[:3], method="wechat_vote")  # three invited: the round awaits three
    assert client.get("/v1/wechat-votes/mat_w").status_code == 404  # nothing yet
    assert answer(client, paths[0], solved="solved").status_code == 201
    assert answer(client, paths[1], rating="basically_satisfied").status_code == 201
    early = client.get("/v1/wechat-votes/mat_w")
    assert early.status_code == 409  # still open: no running count
    assert answer(client, paths[2]).status_code == 201  # three voices: the round is decided satisfied
    tally = client.get("/v1/wechat-votes/mat_w")
    assert tally.status_code == 200, tally.text
    assert client.get("/v1/votes/mat_w").json() == tally.json()  # the old path, an alias for one release
    body = tally.json()
    assert body["total"] == 3 and body["round"] == 1
    assert {c["value"]: c["count"] for c in body["ratings"]} == {
        "satisfied": 2,
        "basically_satisfied": 1,
        "unsatisfied": 0,
    }
    assert "hh_" not in tally.text  # counts only: nobody's ref
    methods = {e["method"] for e in client.get("/v1/matters/mat_w/evaluations", headers=auth()).json()["evaluations"]}
    assert methods == {"wechat_vote"}


# --------------------------------------------------------------------------- forums


def test_forum_records_many_households_at_once(client):
    seed(client, "mat_f", households=40)
    body = {
        "held_at": "2025-06-10T19:30:00+08:00",
        "place": "景湖花园党群服务站",
        "evaluations": [{"household": h, "rating": "satisfied"} for h in HOUSES[:4]]
        + [{"household": HOUSES[4], "rating": "unsatisfied", "comment": "电梯噪声还在"}],
    }
    resp = client.post("/v1/matters/mat_f/forum", json=body, headers=auth())
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["households"] == 5 and len(out["evaluation_ids"]) == 5
    assert out["round_outcome"] == "satisfied" and out["round_rate"] == 0.8
    evals = client.get("/v1/matters/mat_f/evaluations", headers=auth()).json()["evaluations"]
    assert {e["method"] for e in evals} == {"group_forum"}
    assert {e["evidence"]["forum_id"] for e in evals} == {out["forum_id"]}


def test_forum_is_all_or_nothing(client):
    seed(client, "mat_f", households=40)
    one = {"held_at": "2025-06-10T19:30:00+08:00", "place": "党群服务站"}
    twice = {**one, "evaluations": [{"household": HOUSES[0], "rating": "satisfied"}] * 2}
    assert client.post("/v1/matters/mat_f/forum", json=twice, headers=auth()).status_code == 422
    naive = {**one, "held_at": "2025-06-10T19:30:00", "evaluations": [{"household": HOUSES[0], "rating": "satisfied"}]}
    assert client.post("/v1/matters/mat_f/forum", json=naive, headers=auth()).status_code == 422
    first = {**one, "evaluations": [{"household": HOUSES[0], "rating": "satisfied"}]}
    assert client.post("/v1/matters/mat_f/forum", json=first, headers=auth()).status_code == 201
    outsider = auth("party_org", ("xueyuan",))
    assert client.post("/v1/matters/mat_f/forum", json=first, headers=outsider).status_code == 404
    assert client.post("/v1/matters/mat_f/forum", json=first, headers=auth("property_company")).status_code == 403
    clash = {**one, "evaluations": [{"household": h, "rating": "satisfied"} for h in HOUSES[:3]]}
    assert client.post("/v1/matters/mat_f/forum", json=clash, headers=auth()).status_code == 409
    evals = client.get("/v1/matters/mat_f/evaluations", headers=auth()).json()["evaluations"]
    assert len(evals) == 1


# --------------------------------------------------------------------------- revisit plans


def test_staff_edit_a_revisit_plan_and_grid_worker_sees_their_list(client):
    seed(client, "mat_r", households=2)
    [rev] = client.get("/v1/revisits", headers=auth()).json()["items"]
    assert rev["methods"] == ["home_visit", "questionnaire"] and rev["assignee"] is None
    url = f"/v1/revisits/{rev['id']}"
    due = "2030-06-06T18:00:00+08:00"
    grid = auth("grid_worker", sub="grid-wang")
    assert client.patch(url, json={"assignee": "grid-wang"}, headers=grid).status_code == 403
    assert client.patch(url, json={"assignee": "grid-wang"}, headers=auth("party_org", ("xueyuan",))).status_code == 404
    assert client.patch(url, json={}, headers=auth()).status_code == 422
    assert client.patch(url, json={"due_at": "2030-06-06T18:00:00"}, headers=auth()).status_code == 422
    assert client.patch(url, json={"methods": ["home_visit", "home_visit"]}, headers=auth()).status_code == 422
    assert client.patch(url, json={"assignee": "bad sub!"}, headers=auth()).status_code == 422
    no_one = client.patch(url, json={"due_at": due}, headers=auth())
    assert no_one.status_code == 422 and no_one.json()["errors"][0]["field"] == "assignee"
    resp = client.patch(
        url, json={"methods": ["questionnaire", "home_visit"], "assignee": "grid-wang", "due_at": due}, headers=auth()
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["methods"] == ["home_visit", "questionnaire"] and body["assignee"] == "grid-wang"
    assert dt.datetime.fromisoformat(body["due_at"]) == dt.datetime.fromisoformat(due)
    assert body["status"] == "open"
    mine = client.get("/v1/revisits", params={"assignee": "me"}, headers=grid).json()["items"]
    assert [r["id"] for r in mine] == [rev["id"]]
    other = client.get("/v1/revisits", params={"assignee": "me"}, headers=auth("grid_worker", sub="grid-li")).json()[
        "items"
    ]
    assert other == []
    past = client.patch(url, json={"due_at": "2020-01-01T18:00:00+08:00"}, headers=auth())
    assert past.json()["status"] == "overdue"


# --------------------------------------------------------------------------- owners' votes


def test_owner_vote_from_the_directory_with_exact_report(client):
    body = {
        "community": "jinshan",
        "question": "7号楼是否加装电梯（改建）",
        "item": 7,
        "compound": "jinghuhuayuan",
        "buildings": ["7"],
    }
    known_matter(client, "mat_e")
    opened = client.post("/v1/matters/mat_e/owner-votes", json=body, headers=auth())
    assert opened.status_code == 201, opened.text
    vote = opened.json()
    assert (vote["total_area_m2"], vote["total_owners"], vote["status"]) == ("1237.50", 10, "open")
    url = f"/v1/owner-votes/{vote['vote_id']}"
    for i in range(6):
        r = client.post(
            f"{url}/ballots",
            json={"household": HOUSES[0][:-3] + f"{i}01", "area_m2": "98.5", "choice": "for"},
            headers=auth("grid_worker"),
        )
        assert r.status_code == 201, r.text
    for i in range(6, 8):
        r = client.post(
            f"{url}/ballots",
            json={"household": f"景湖花园7-2-{i}01", "area_m2": "150.25", "choice": "against"},
            headers=auth(),
        )
        assert r.status_code == 201
    dup = client.post(
        f"{url}/ballots",
        json={"household": HOUSES[0][:-3] + "001", "area_m2": "98.5", "choice": "against"},
        headers=auth(),
    )
    assert dup.status_code == 409
    too_big = client.post(
        f"{url}/ballots", json={"household": "景湖花园7-2-901", "area_m2": "400", "choice": "for"}, headers=auth()
    )
    assert too_big.status_code == 422
    closed = client.post(f"{url}/close", headers=auth())
    assert closed.status_code == 200
    rep = closed.json()
    checks = {c["name"]: c for c in rep["checks"]}
    assert checks["participation_area"]["share"] == "1783/2475" and checks["participation_area"]["met"]
    assert checks["participation_owners"]["share"] == "4/5" and checks["participation_owners"]["bound"] == "2/3"
    assert checks["approval_owners"]["share"] == "3/4" and checks["approval_owners"]["met"]
    assert checks["approval_area"]["share"] == "1182/1783" and not checks["approval_area"]["met"]
    assert rep["passed"] is False and rep["status"] == "closed" and "未通过" in rep["conclusion"]
    assert rep["voted_area_m2"] == "891.50"
    assert "hh_" not in closed.text  # aggregates only
    late = client.post(
        f"{url}/ballots", json={"household": "景湖花园7-2-801", "area_m2": "1", "choice": "for"}, headers=auth()
    )
    assert late.status_code == 409
    assert client.get(url, headers=auth("grid_worker")).json()["passed"] is False
    assert client.get(url, headers=auth("party_org", ("xueyuan",))).status_code == 404


def test_owner_vote_input_checks(client):
    url = "/v1/matters/mat_e/owner-votes"
    assert (
        client.post(
            url,
            json={
                "community": "jinshan",
                "question": "是否调整停车收费",
                "item": 4,
                "total_area_m2": "300.00",
                "total_owners": 3,
            },
            headers=auth(),
        ).status_code
        == 404
    )
    known_matter(client, "mat_e")
    base = {"community": "jinshan", "question": "是否调整停车收费", "item": 4}
    assert client.post(url, json=base, headers=auth()).status_code == 422  # no electorate
    both = {**base, "compound": "jinghuhuayuan", "buildings": ["7"], "total_area_m2": "100", "total_owners": 3}
    assert client.post(url, json=both, headers=auth()).status_code == 422
    unknown = {**base, "compound": "jinghuhuayuan", "buildings": ["99"]}
    assert client.post(url, json=unknown, headers=auth()).status_code == 422
    assert (
        client.post(
            url, json={**base, "total_area_m2": "100", "total_owners": 3}, headers=auth("grid_worker")
        ).status_code
        == 403
    )
    given = client.post(url, json={**base, "total_area_m2": "300.00", "total_owners": 3}, headers=auth())
    assert given.status_code == 201 and given.json()["kind"] == "ordinary"
    other = client.post(
        url, json={**base, "community": "xueyuan", "total_area_m2": "1", "total_owners": 1}, headers=auth()
    )
    assert other.status_code == 403 or other.status_code == 404


def test_owner_ballots_by_one_time_link(client):
    body = {"community": "jinshan", "question": "是否利用共有部分设置快递柜", "item": 8}
    known_matter(client, "mat_k")
    vote = client.post(
        "/v1/matters/mat_k/owner-votes", json={**body, "total_area_m2": "400", "total_owners": 4}, headers=auth()
    ).json()
    url = f"/v1/owner-votes/{vote['vote_id']}"
    owners = [{"household": h, "area_m2": "100"} for h in HOUSES[:3]]
    assert client.post(f"{url}/links", json={"owners": owners}, headers=auth("grid_worker")).status_code == 403
    resp = client.post(f"{url}/links", json={"owners": owners}, headers=auth())
    assert resp.status_code == 201, resp.text
    paths = [link["path"] for link in resp.json()["links"]]
    form = client.get(paths[0])
    assert form.status_code == 200 and form.json()["area_m2"] == "100" and "快递柜" in form.json()["question"]
    for path in paths:
        assert client.post(path, json={"choice": "for"}).status_code == 201
    assert client.post(paths[0], json={"choice": "against"}).status_code == 409  # single use
    # A questionnaire link is not a ballot, and a ballot link is not a questionnaire.
    assert client.get(paths[0].replace("/v1/b/", "/v1/q/")).status_code == 404
    q_token, _ = signer().issue(
        purpose="feedback.questionnaire", subject=vote["vote_id"], audience="hh_x", ttl=dt.timedelta(hours=1)
    )
    assert client.post(f"/v1/b/{q_token}", json={"choice": "for"}).status_code == 404
    # A ballot link for an owner not on this vote's roll (another vote's subject) gets nothing.
    other, _ = signer().issue(
        purpose="feedback.owner_vote", subject="ovt_other", audience="hh_x", ttl=dt.timedelta(hours=1)
    )
    assert client.post(f"/v1/b/{other}", json={"choice": "for"}).status_code == 404
    rep = client.post(f"{url}/close", headers=auth()).json()
    checks = {c["name"]: c["share"] for c in rep["checks"]}
    assert checks == {
        "participation_area": "3/4",
        "participation_owners": "3/4",
        "approval_area": "1/1",
        "approval_owners": "1/1",
    }
    assert rep["passed"] is True and "通过" in rep["conclusion"]
    late = client.post(f"{url}/links", json={"owners": owners[:1]}, headers=auth())
    assert late.status_code == 409


def test_using_the_maintenance_fund_needs_more_than_half_and_the_result_goes_to_the_ledger(client):
    # Civil Code art. 278: 使用维修资金 is item (5), decided by more than half (not three quarters).
    from tests.integration.test_meeting_api import outbox

    known_matter(client, "mat_f")
    url = "/v1/matters/mat_f/owner-votes"
    base = {
        "community": "jinshan",
        "question": "是否使用维修资金更换7号楼水泵",
        "total_area_m2": "600",
        "total_owners": 6,
    }
    for bad in (0, 10, "五"):
        r = client.post(url, json={**base, "item": bad}, headers=auth())
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "item", r.text
    r = client.post(url, json={**base, "kind": "major"}, headers=auth())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "item"  # the rule comes from the item
    opened = client.post(url, json={**base, "item": 5}, headers=auth())
    assert opened.status_code == 201, opened.text
    vote = opened.json()
    assert vote["kind"] == "ordinary" and "第（五）项：使用建筑物及其附属设施的维修资金" in vote["item_label"]
    vote_url = f"/v1/owner-votes/{vote['vote_id']}"
    # 5 of 6 take part (100 m² each); 3 for = 3/5: more than half, below three quarters.
    for i, choice in enumerate(("for", "for", "for", "against", "abstain")):
        body = {"household": f"景湖花园7-1-{i + 1}01", "area_m2": "100", "choice": choice}
        assert client.post(f"{vote_url}/ballots", json=body, headers=auth()).status_code == 201
    rep = client.post(f"{vote_url}/close", headers=auth()).json()
    assert rep["passed"] is True and {c["name"]: c["bound"] for c in rep["checks"]}["approval_area"] == "1/2"
    # Closing again reports the same and tells the ledger only once.
    assert client.post(f"{vote_url}/close", headers=auth()).json()["passed"] is True
    sent = [e for e in outbox(client) if e.type == "owner_vote.closed.v1"]
    assert len(sent) == 1 and sent[0].subject == "mat_f" and sent[0].community == "jinshan"
    data = sent[0].data
    assert (data["item"], data["rule"], data["passed"], data["for_owners"], data["voted_owners"]) == (
        5,
        "ordinary",
        True,
        3,
        5,
    )
    assert (data["for_area_m2"], data["voted_area_m2"], data["total_area_m2"]) == ("300.00", "500.00", "600.00")
    assert "hh_" not in str(data)  # aggregates only, never who voted what
    # The same ballots on item (6) 筹集维修资金 would not pass: three quarters are needed there.
    six = client.post(url, json={**base, "item": 6}, headers=auth()).json()
    for i, choice in enumerate(("for", "for", "for", "against", "abstain")):
        body = {"household": f"景湖花园7-1-{i + 1}01", "area_m2": "100", "choice": choice}
        client.post(f"/v1/owner-votes/{six['vote_id']}/ballots", json=body, headers=auth())
    rep = client.post(f"/v1/owner-votes/{six['vote_id']}/close", headers=auth()).json()
    assert rep["kind"] == "major" and rep["passed"] is False and "未通过" in rep["conclusion"]
