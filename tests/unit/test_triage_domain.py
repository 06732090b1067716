"""Unit tests for the pure triage grading rules (分类领办)."""

from __future__ import annotations

import pytest

from services.triage.domain import (
    CATEGORIES,
    CATEGORY_LABELS,
    Grade,
    PhraseAdditions,
    cluster_key,
    grade,
)

pytestmark = pytest.mark.unit


# (text, channel, level, route, category or None to skip)
CASES: list[tuple[str, str, str, str, str | None]] = [
    # --- red: dangerous on their own ---
    ("8栋电梯困人了，快来人！！", "wechat_group", "red", "deliberate", "elevator"),
    ("3号楼2单元配电箱漏电，小孩差点摸到", "wechat_group", "red", "deliberate", "safety_fire"),
    ("楼道里电线裸露，天天有人经过", "miniprogram", "red", "deliberate", "safety_fire"),
    ("6栋一楼电动车着火了 冒烟很大", "wechat_group", "red", "deliberate", "safety_fire"),
    (
        "市民来电反映：该小区7号楼外墙墙体开裂，存在安全隐患，请尽快处理。",
        "hotline_12345",
        "red",
        "deliberate",
        "safety_fire",
    ),
    ("小区主水管爆管了，水哗哗往外冒", "wechat_group", "red", "deliberate", "utilities"),
    ("暴雨导致地下车库倒灌，车都泡了", "wechat_group", "red", "deliberate", "drainage"),
    ("有人高空抛物，差点砸到小孩", "counter", "red", "deliberate", "safety_fire"),
    ("化粪池满溢，粪水流到单元门口", "door_visit", "red", "deliberate", "drainage"),
    ("消防通道被堵死了，车都停满了", "wechat_group", "red", "deliberate", None),
    ("西门口井盖丢了，晚上黑乎乎的很容易掉进去", "miniprogram", "red", "deliberate", "road"),
    # --- red: combinations ---
    ("5号楼整栋楼停水三天了，老人小孩都没水喝", "hotline_12345", "red", "deliberate", "utilities"),
    ("台风过后整个小区停电，到现在还没来电", "wechat_group", "red", "deliberate", "utilities"),
    ("寒潮来了，我们这栋暖气不热，已经一个星期了", "miniprogram", "red", "deliberate", "utilities"),
    ("暴雨后地下车库积水严重", "wechat_group", "red", "deliberate", "drainage"),
    # --- yellow: livelihood matters for many ---
    ("@物业 12栋2单元楼道灯又不亮了[图片]", "wechat_group", "yellow", "direct", "lighting"),
    ("金泰和庄3号楼下水道堵了 一楼都进不去", "wechat_group", "yellow", "direct", "drainage"),
    ("路灯坏了吓死人了", "wechat_group", "yellow", "direct", "lighting"),
    ("小区门口路面有个大坑，下雨天全是泥", "miniprogram", "yellow", "direct", "road"),
    ("晚上车位全被外来车辆占了，乱停车严重", "wechat_group", "yellow", "direct", "parking"),
    ("垃圾桶满了好久没人清运，臭得很", "wechat_group", "yellow", "direct", "sanitation"),
    ("楼下广场舞音响太吵，每天晚上十点还在跳", "opinion_box", "yellow", "direct", "noise"),
    ("单元门禁坏了，陌生人随便进出", "door_visit", "yellow", "direct", "security_access"),
    ("小区健身器材坏了好几个，座椅也断了", "opinion_box", "yellow", "direct", "public_facilities"),
    ("绿化带里的树枝太长挡住窗户，请修剪一下", "miniprogram", "yellow", "direct", "greening"),
    ("有人在楼顶私搭乱建阳光房", "hotline_12345", "yellow", "direct", "construction"),
    ("物业乱收费，停车费涨价也不公示", "wechat_group", "yellow", "direct", None),
    ("电梯维保不到位，经常停运", "wechat_group", "yellow", "direct", "elevator"),
    # --- green: particular groups ---
    ("独居老人张大爷想申请老年助餐", "door_visit", "green", "direct", "elderly_care"),
    ("希望能给小朋友装个滑梯", "wish_wall", "green", "direct", "children"),
    ("单元门口台阶太高，坐轮椅的住户进出不便，需要坡道", "door_visit", "green", "direct", "accessibility"),
    ("楼下那家的狗不牵绳，到处拉狗屎", "wechat_group", "green", "direct", "pets"),
    # --- deliberate triggers ---
    (
        "金泰和庄12号楼2单元公共下水管反复堵塞，一楼商铺不同意开挖维修",
        "door_visit",
        "yellow",
        "deliberate",
        "drainage",
    ),
    ("楼顶防水坏了，维修基金怎么分摊大家意见不一", "wechat_group", "yellow", "deliberate", None),
    ("小区后面那段路坑坑洼洼，物业说不归他们管，推来推去", "hotline_12345", "yellow", "deliberate", "road"),
    ("楼上漏水到楼下，邻居不肯修，两家吵起来了", "counter", "green", "deliberate", "neighbor_dispute"),
    ("建议老旧小区加装电梯", "opinion_box", "yellow", "deliberate", "elevator"),
    ("路灯坏了多次反映一直没人管", "hotline_12345", "yellow", "deliberate", "lighting"),
]


@pytest.mark.parametrize(("text", "channel", "level", "route", "category"), CASES)
def test_realistic_reports(text: str, channel: str, level: str, route: str, category: str | None) -> None:
    g = grade(text, channel=channel)
    assert (g.level, g.route) == (level, route), g.reasons
    if category is not None:
        assert g.category == category, g.reasons
    assert g.reasons, "every grade must explain itself"
    assert 0.0 <= g.confidence <= 1.0
    assert g.category in CATEGORIES


def test_table_covers_every_level_and_route() -> None:
    assert {c[2] for c in CASES} == {"red", "yellow", "green"}
    assert {c[3] for c in CASES} == {"direct", "deliberate"}
    assert len({c[1] for c in CASES}) >= 5


def test_worked_case_from_article() -> None:
    g = grade("金泰和庄12号楼2单元公共下水管反复堵塞，一楼商铺不同意开挖维修", channel="door_visit")
    assert g.level in ("yellow", "red")
    assert g.category == "drainage"
    assert g.route == "deliberate"
    assert any("不同意" in r for r in g.reasons)


def test_calm_report_of_real_danger_is_red_with_review() -> None:
    g = grade("家里闻到一点煤气味，不知道要不要紧", channel="miniprogram")
    assert g.level == "red"
    assert g.route == "deliberate"
    assert g.needs_review is True
    assert "危险词：“煤气味”" in g.reasons


def test_worry_about_danger_is_red_with_review() -> None:
    g = grade("楼道电线老化，怕漏电", channel="door_visit")
    assert (g.level, g.needs_review) == ("red", True)


@pytest.mark.parametrize(
    "text",
    ["电工上门检查过了，没有漏电", "燃气公司来看过，没发现漏气", "如何防止电动车着火？", "昨天停电已恢复"],
)
def test_negated_or_resolved_danger_is_not_red(text: str) -> None:
    assert grade(text, channel="wechat_group").level != "red"


def test_alarming_words_on_routine_matter_are_noted_not_red() -> None:
    g = grade("路灯坏了吓死人了", channel="wechat_group")
    assert g.level == "yellow"
    assert any("吓死人" in r and "不作为危险依据" in r for r in g.reasons)


def test_routine_outage_alone_is_not_red() -> None:
    # One household's own outage is that household's need (green), never red.
    assert grade("我家停电了，是不是跳闸了", channel="wechat_group").level == "green"
    assert grade("明天上午计划停水，检修停水通知", channel="wechat_group").level == "yellow"


def test_vulnerable_plus_outage_is_red_needing_review() -> None:
    g = grade("独居老人王奶奶家停电了", channel="door_visit")
    assert g.level == "red"
    assert g.needs_review is True
    assert any("独居老人" in r for r in g.reasons)


def test_vulnerable_person_in_risk_is_red() -> None:
    g = grade("网格员走访：8栋独居老人李奶奶两天联系不上", channel="door_visit")
    assert g.level == "red"
    assert g.needs_review is True


def test_long_duration_is_a_reason() -> None:
    g = grade("停电三天了，冰箱里东西都坏了", channel="wechat_group")
    assert g.level == "red"
    assert "持续时间：“三天”" in g.reasons


def test_date_is_not_a_duration() -> None:
    g = grade("5月3日停电了一会儿", channel="wechat_group")
    assert g.level == "yellow"
    assert not any(r.startswith("持续时间") for r in g.reasons)


def test_households_raise_green_to_yellow() -> None:
    base = grade("老人助餐点饭菜太咸", channel="opinion_box")
    assert base.level == "green"
    g = grade("老人助餐点饭菜太咸", channel="opinion_box", households=12)
    assert g.level == "yellow"
    assert "涉及住户 12 户（≥10 户为黄）" in g.reasons


def test_households_in_text_raise_grade() -> None:
    g = grade("楼下流浪猫太多，涉及20多户", channel="door_visit")
    assert g.level == "yellow"
    assert any("20 户" in r for r in g.reasons)


def test_reporters_raise_grade_and_route() -> None:
    g = grade("小区里有只狗晚上一直叫", channel="wechat_group", reporters=4)
    assert g.level == "yellow"
    assert g.route == "deliberate"
    assert any("4 人" in r for r in g.reasons)


def test_red_is_always_deliberate() -> None:
    g = grade("电梯困人", channel="wechat_group")
    assert g.route == "deliberate"
    assert "规则：红色一律上会议事" in g.reasons


def test_kind_from_text_and_hint() -> None:
    assert grade("建议小区增设充电桩", channel="opinion_box").kind == "suggestion"
    assert grade("能不能增加几个垃圾桶", channel="miniprogram").kind == "suggestion"
    assert grade("垃圾桶满了", channel="miniprogram").kind == "problem"
    assert grade("垃圾桶满了", channel="miniprogram", kind_hint="suggestion").kind == "suggestion"
    assert grade("想有个活动室", channel="wish_wall").kind == "suggestion"


def test_suggestion_needing_collective_decision_deliberates() -> None:
    g = grade("可否把小区闲置空地改造成停车场", channel="opinion_box")
    assert (g.kind, g.route, g.category) == ("suggestion", "deliberate", "parking")


def test_category_hint_used_when_ambiguous() -> None:
    g = grade("这个问题麻烦尽快处理一下", channel="miniprogram", category_hint="road")
    assert g.category == "road"
    assert any("上报时选择" in r for r in g.reasons)


def test_category_hint_ignored_when_text_is_clear() -> None:
    g = grade("12栋楼道灯不亮", channel="miniprogram", category_hint="pets")
    assert g.category == "lighting"


def test_invalid_category_hint_is_ignored_with_reason() -> None:
    g = grade("路灯不亮", channel="miniprogram", category_hint="ufo")
    assert g.category == "lighting"
    assert any("无效" in r for r in g.reasons)


def test_unknown_text_is_other_and_needs_review() -> None:
    g = grade("你好，在吗", channel="wechat_group")
    assert g.category == "other"
    assert g.needs_review is True
    assert g.confidence < 0.6


def test_phrase_additions() -> None:
    text = "后山的泥石流冲到2栋后墙"  # 滑坡 is in the hazard taxonomy now; 泥石流 is not
    assert grade(text, channel="wechat_group").level != "red"
    extra = PhraseAdditions(danger=("泥石流",), categories={"safety_fire": ("泥石流",)})
    g = grade(text, channel="wechat_group", extra=extra)
    assert g.level == "red"
    assert g.category == "safety_fire"
    assert "危险词：“泥石流”" in g.reasons


def test_phrase_additions_vulnerable() -> None:
    text = "五保户刘大爷家停水了"
    assert grade(text, channel="door_visit").level == "yellow"
    g = grade(text, channel="door_visit", extra=PhraseAdditions(vulnerable=("五保户",)))
    assert g.level == "red"


def test_phrase_additions_unknown_category_key_is_ignored() -> None:
    g = grade("路灯不亮", channel="wechat_group", extra=PhraseAdditions(categories={"nope": ("路灯",)}))
    assert g.category == "lighting"


def test_confident_clear_report_needs_no_review() -> None:
    g = grade("8栋电梯困人了", channel="wechat_group")
    assert g.confidence >= 0.85
    assert g.needs_review is False


def test_grade_is_frozen() -> None:
    g = grade("路灯不亮", channel="wechat_group")
    assert isinstance(g, Grade)
    with pytest.raises(AttributeError):
        g.level = "red"  # type: ignore[misc]


def test_categories_and_labels() -> None:
    assert len(CATEGORIES) == 20
    assert CATEGORIES[0] == "parking" and CATEGORIES[-1] == "other"
    assert set(CATEGORY_LABELS) == set(CATEGORIES)
    assert CATEGORY_LABELS["safety_fire"] == "消防与安全"
    assert CATEGORY_LABELS["utilities"] == "水电气暖"


def test_cluster_key_joins_variants_of_same_place() -> None:
    a = cluster_key("城东社区", "金泰和庄小区", "12号楼", "drainage")
    b = cluster_key("城东", " 金泰和庄 ", "12栋", "drainage")
    c = cluster_key("城东社区", "金泰和庄", "十二幢", "drainage")
    assert a == b == c


def test_cluster_key_separates_different_matters() -> None:
    base = cluster_key("城东社区", "金泰和庄", "12号楼", "drainage")
    assert cluster_key("城东社区", "金泰和庄", "3号楼", "drainage") != base
    assert cluster_key("城东社区", "金泰和庄", "12号楼", "lighting") != base
    assert cluster_key("城东社区", "金泰和庄", "12号楼2单元", "drainage") != base
    assert cluster_key("城东社区", None, None, "road") == "城东|-|-|road"


def test_cluster_key_rejects_unknown_category() -> None:
    with pytest.raises(ValueError):
        cluster_key("城东社区", None, None, "ufo")
