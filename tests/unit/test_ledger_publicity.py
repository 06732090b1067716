"""Board notices (公示栏/党建栏): when they are due, 一件一评价 per matter, no personal data in any form."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ledger import publicity
from services.ledger.domain import TZ

pytestmark = pytest.mark.unit


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


def test_last_month_is_due_from_the_first_at_eight():
    assert publicity.due_month(at(2026, 12, 1, 7, 59)) is None
    assert publicity.due_month(at(2026, 12, 1, 8, 0)) == "2026-11"
    assert publicity.due_month(at(2026, 12, 20, 3, 0)) == "2026-11"  # a late run catches up
    assert publicity.due_month(at(2027, 1, 1, 9, 0)) == "2026-12"


def test_satisfaction_counts_the_latest_round_only():
    assert publicity.satisfaction([]) is None
    got = publicity.satisfaction([(1, "unsatisfied"), (1, "unsatisfied"), (2, "satisfied"), (2, "basically_satisfied")])
    assert got == {"round": 2, "good": 2, "evaluated": 2, "text": "满意2/2户（100%）"}
    assert (
        publicity.satisfaction([(1, "satisfied"), (1, "unsatisfied"), (1, "satisfied")])["text"] == "满意2/3户（67%）"
    )


def row(ref: str, compound: str, title: str, state: str = "closed", **over) -> dict:
    base = {
        "no": 1,
        "ref": ref,
        "compound": compound,
        "building": "5号楼",
        "category": "parking",
        "category_zh": "停车",
        "level": "yellow",
        "level_zh": "黄",
        "title": title,
        "measures": "划线设置临时停车位",
        "lead_unit": "江西恒泰物业服务有限公司",
        "supporting_units": [],
        "state": state,
        "state_label": "已销号",
        "progress": "",
    }
    return {**base, **over}


CONTENT = {
    "community": "jinshan",
    "community_name": "金山社区",
    "month": "2026-11",
    "summary": {},
    "matters": [
        row("aaaa0001", "景湖花园", "5号楼门前车辆乱停，住户王小明电话13812345678反映"),
        row("aaaa0002", "秀谷名苑", "2号楼下水道堵塞", state="completed", measures="3-1-101室门口疏通"),
    ],
}


def test_a_compound_board_shows_its_own_matters_with_their_evaluation_and_no_personal_data():
    evals = {"aaaa0001": publicity.satisfaction([(1, "satisfied"), (1, "satisfied"), (1, "unsatisfied")])}
    board = publicity.board_content(
        CONTENT,
        board="jinghuhuayuan",
        kind="compound",
        name="景湖花园东门公告栏",
        compound_name="景湖花园",
        evaluations=evals,
    )
    assert [m["ref"] for m in board["matters"]] == ["aaaa0001"]
    assert board["matters"][0]["evaluation"] == "满意2/3户（67%）"
    assert board["summary"] == {
        "listed": 1,
        "completed": 1,
        "evaluated_households": 3,
        "satisfied_households": 2,
        "satisfaction": "67%",
    }
    party = publicity.board_content(
        CONTENT, board="party", kind="party_building", name="金山社区党建宣传栏", compound_name=None, evaluations=evals
    )
    assert [m["evaluation"] for m in party["matters"]] == ["满意2/3户（67%）", "待回访评价"]
    for text in (publicity.to_txt(party), publicity.to_html(party), str(party)):
        assert "13812345678" not in text and "王小明" not in text and "101室" not in text
    txt = publicity.to_txt(board)
    assert txt.startswith("【景湖花园东门公告栏】金山社区五方议事厅2026年11月事项办理情况公示")
    assert "居民评价：满意2/3户（67%）" in txt and len(txt) <= publicity.TXT_LIMIT


def test_a_long_month_is_cut_for_the_group_and_says_how_many_are_on_the_board():
    many = {**CONTENT, "matters": [row(f"b{i:07d}", "景湖花园", "路灯不亮" * 10) for i in range(40)]}
    board = publicity.board_content(
        many, board="party", kind="party_building", name="党建宣传栏", compound_name=None, evaluations={}
    )
    txt = publicity.to_txt(board)
    assert len(txt) <= publicity.TXT_LIMIT and "件见公告栏" in txt
