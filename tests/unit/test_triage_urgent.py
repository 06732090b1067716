"""Unmistakable calls for help: red whatever the model says, and only when the call is current. Fast: no I/O."""

from __future__ import annotations

import pytest

from services.triage import domain, grader, urgent
from services.triage.model import Prediction

pytestmark = pytest.mark.unit

ARGS = dict(kind_hint=None, category_hint=None, reporters=1)


def not_red_prediction(p_red: float = 0.01) -> Prediction:
    """A model prediction that finds no red (P(red) far below its threshold)."""
    probs = {
        "level": {"red": p_red, "yellow": 0.7, "green": 0.3 - p_red},
        "route": {"direct": 0.9, "deliberate": 0.1},
        "kind": {"problem": 0.9, "suggestion": 0.1},
        "category": {"sanitation": 0.9, "other": 0.1},
    }
    return Prediction(probs, ("楼道",), text_red=p_red, text_probs=probs, red_threshold=0.2)


def _cues(text: str) -> list[str]:
    return [s.cue for s in urgent.signals(text)]


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("楼道里全是烟！！！看不清 我们在5楼出不去 119打了", "119"),
        ("有个老人家倒在电梯口 有没有人打了120", "120"),  # a call not yet made is as urgent
        ("冇人打120 好多人围着看", "120"),
        ("来电人称如果这周还不解决，就从小区楼顶跳下去", "跳下去"),
        ("噪音问题：每天半夜楼下那个变电箱都在响，还冒蓝光，吵得我睡不着", "冒蓝光"),
        ("对门王阿姨一个人住，敲门敲不开，电话也没人接", "敲不开"),
        ("楼下有个人拿刀在追人", "拿刀"),
        ("老人摔倒了 头上不停流血", "流血"),  # 不停: bleeding on, not a denial
    ],
)
def test_a_current_call_for_help_is_found(text: str, cue: str):
    assert cue in _cues(text)


@pytest.mark.parametrize(
    "text",
    [
        "工单编号202611945600：市民来电反映，锦湖花园5号楼水压太小",  # 119 inside a longer number
        "走访 翠湖湾3-2-1101 王某某家 希望了解康复救助政策",  # 110 inside a room number
        "消防宣传进社区：牢记火警电话119",  # a number to remember, not a call
        "去年有个人在这里倒在地上，后来装了扶手",  # past
        "电梯困人已经救出来了，没有人流血",  # denied
        "楼下酒吧天天吵得人想跳楼，投诉了无数次",  # an exaggeration, not a sign of the list
    ],
)
def test_no_call_for_help_where_there_is_none(text: str):
    assert _cues(text) == []


def test_the_rules_grade_it_red_with_the_reason_in_both_languages():
    g = domain.grade("楼道里全是烟！！！看不清 我们在5楼出不去 119打了", channel="wechat_group")
    assert (g.level, g.route, g.urgent) == ("red", "deliberate", True)
    i = next(i for i, r in enumerate(g.reasons) if r.startswith("紧急求助信号："))
    assert "“119”" in g.reasons[i] and "unmistakable call for help" in g.reasons_en[i]


def test_the_model_cannot_demote_it_but_can_demote_an_ordinary_rules_red():
    calls = domain.grade("楼道里全是烟！！！看不清 我们在5楼出不去 119打了", channel="wechat_group")
    kept = grader.combine(calls, not_red_prediction(), **ARGS)
    assert (kept.level, kept.route, kept.urgent) == ("red", "deliberate", True)
    assert not any(r.startswith("规则提示危险，但模型判断不属当前急险") for r in kept.reasons)
    plain = domain.grade("楼道里冒烟了", channel="wechat_group")  # a hazard red of the rules, no call for help
    assert (plain.level, plain.urgent) == ("red", False)
    assert grader.combine(plain, not_red_prediction(), **ARGS).level != "red"  # still the model's to confirm
