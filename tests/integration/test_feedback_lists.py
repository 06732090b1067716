"""Feedback's revisit list searches server side and exports the same rows as XLSX, in words."""

from __future__ import annotations

import pytest

from tests.integration.test_feedback_api import auth, client, seed  # noqa: F401
from tests.integration.test_list_search_export import sheet

pytestmark = pytest.mark.integration


def test_revisits_search_and_export(client):  # noqa: F811
    seed(client, "mat_one")
    seed(client, "mat_two", households=2)
    h = auth()
    assert client.get("/v1/revisits", headers=h).json()["total"] == 2
    assert (
        client.get("/v1/revisits", params={"category": "drainage", "level": "yellow"}, headers=h).json()["total"] == 2
    )
    assert client.get("/v1/revisits", params={"category": "parking"}, headers=h).json()["total"] == 0
    assert client.get("/v1/revisits", params={"since": "2999-01-01"}, headers=h).json()["total"] == 0

    rows = sheet(client.get("/v1/revisits.xlsx", headers=h))
    assert rows[0][:4] == ["社区", "类别", "等级", "办理措施"]
    assert len(rows) == 3 and {r[1] for r in rows[1:]} == {"排水"} and {r[2] for r in rows[1:]} == {"黄"}
    assert all(r[0] and "jinshan" not in r[0] for r in rows[1:])
    assert "mat_" not in str(rows) and "drainage" not in str(rows)


def test_owner_votes_are_listed_with_their_tallies_in_scope(hall_env, tmp_path, monkeypatch):
    from tests.integration import test_feedback_links as links

    gen = links.client.__wrapped__(hall_env, tmp_path, monkeypatch)
    c = next(gen)
    try:
        body = {"community": "jinshan", "question": "7号楼是否加装电梯", "item": 7, "compound": "jinghuhuayuan"}
        links.known_matter(c, "mat_lift")
        opened = c.post("/v1/matters/mat_lift/owner-votes", json={**body, "buildings": ["7"]}, headers=links.auth())
        assert opened.status_code == 201, opened.text
        h = links.auth()
        page = c.get("/v1/owner-votes", headers=h).json()
        assert page["total"] == 1 and page["items"][0]["question"] == "7号楼是否加装电梯"
        assert page["items"][0]["total_owners"] == 10 and page["items"][0]["status"] == "open"
        assert c.get("/v1/owner-votes", params={"q": "电梯"}, headers=h).json()["total"] == 1
        assert c.get("/v1/owner-votes", params={"q": "停车"}, headers=h).json()["total"] == 0
        assert c.get("/v1/owner-votes", params={"status": "closed"}, headers=h).json()["total"] == 0
        other = links.auth(communities=("xueyuan",))
        assert c.get("/v1/owner-votes", headers=other).json()["total"] == 0
        assert c.get("/v1/owner-votes", params={"community": "jinshan"}, headers=other).status_code == 403
    finally:
        next(gen, None)
