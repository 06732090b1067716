"""Triage's matter list and review queue search server side and export the same rows as XLSX, in words."""

from __future__ import annotations

import pytest

from tests.integration.test_list_search_export import sheet
from tests.integration.test_triage_api import auth, client, seed  # noqa: F401

pytestmark = pytest.mark.integration


def test_matters_search_and_export(client):  # noqa: F811
    gas = seed(client, "3号楼好像有一点煤气味")
    seed(client, "5号楼路灯不亮了", building="5")
    h = auth()
    assert [m["id"] for m in client.get("/v1/matters", params={"q": "煤气"}, headers=h).json()["items"]] == [gas]
    assert [m["id"] for m in client.get("/v1/review", params={"q": "煤气"}, headers=h).json()["items"]] == [gas]
    assert client.get("/v1/review", params={"q": "路灯"}, headers=h).json()["total"] == 0
    assert client.get("/v1/matters", params={"category": "lighting"}, headers=h).json()["total"] == 1
    assert client.get("/v1/matters", params={"since": "2999-01-01"}, headers=h).json()["total"] == 0

    rows = sheet(client.get("/v1/matters.xlsx", headers=h))
    assert rows[0][:5] == ["事项", "社区及地点", "类别", "等级", "办理方式"]
    assert {r[0] for r in rows[1:]} == {"3号楼好像有一点煤气味", "5号楼路灯不亮了"}
    assert {r[2] for r in rows[1:]} >= {"照明"} and all(r[1].startswith("金山") for r in rows[1:])
    flat = " ".join(str(v) for row in rows for v in row if v is not None)
    assert "mat_" not in flat and "jinshan" not in flat and "lighting" not in flat
    review = sheet(client.get("/v1/matters.xlsx", params={"needs_review": "true", "status": "open"}, headers=h))
    assert [r[0] for r in review[1:]] == ["3号楼好像有一点煤气味"] and review[1][7] == "是"
