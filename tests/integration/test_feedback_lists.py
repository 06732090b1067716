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
