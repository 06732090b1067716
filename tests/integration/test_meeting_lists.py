"""Meeting's session list searches server side and exports the same rows as XLSX, in words."""

from __future__ import annotations

import pytest

from tests.integration.test_list_search_export import sheet
from tests.integration.test_meeting_api import _clock, _own_vhost, client, seed, token, triaged  # noqa: F401

pytestmark = pytest.mark.integration


def test_sessions_search_and_export(client):  # noqa: F811
    seed(client, triaged("mat_a"), triaged("mat_b", level="green"))
    h = token()
    [s] = client.get("/v1/sessions", params={"kind": "fixed_day"}, headers=h).json()["items"]
    assert client.get("/v1/sessions", params={"q": s["place"][:2]}, headers=h).json()["total"] >= 1
    assert client.get("/v1/sessions", params={"q": "没有这个地点"}, headers=h).json()["total"] == 0
    assert client.get("/v1/sessions", params={"until": "2000-01-01"}, headers=h).json()["total"] == 0

    rows = sheet(client.get("/v1/sessions.xlsx", params={"kind": "fixed_day"}, headers=h))
    assert rows[0] == ["时间", "类型", "社区", "地点", "议题数", "状态"]

    assert rows[1][1] == "固定议事日" and rows[1][4] == 2 and rows[1][5] == "已排期"
    assert "xueyuan" not in str(rows) and "ses_" not in str(rows)
