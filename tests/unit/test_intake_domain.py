"""Intake's pure rules: places read from messy Chinese text, kind, text cleaning, tracking codes, phones."""

from __future__ import annotations

import pytest

from services.intake import domain
from services.runtime.directory import load_directory

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def xueyuan():
    return load_directory().community("xueyuan")


@pytest.fixture(scope="module")
def jinshan():
    return load_directory().community("jinshan")


def parse(text: str, community=None) -> domain.ParsedPlace:
    return domain.parse_place(domain.clean_text(text), community)


def test_wechat_group_message_with_mention_and_photo_placeholder(xueyuan):
    p = parse("@物业 12栋2单元楼道灯又不亮了[图片]", xueyuan)
    assert (p.building, p.unit, p.room) == ("12", "2", None)
    assert p.compound is None and p.unparsed == ["compound"]


def test_compound_from_directory_and_building(xueyuan):
    p = parse("金泰和庄3号楼下水道堵了 一楼都进不去", xueyuan)
    assert p.compound == "jintaihezhuang" and p.building == "3"
    assert p.unit is None and p.unparsed == ["unit"]  # "一楼" is a floor, not a unit


def test_compound_alias_prefers_longest_name(xueyuan):
    p = parse("金泰和庄小区12号楼2单元301室门口漏水", xueyuan)
    assert (p.compound, p.building, p.unit, p.room) == ("jintaihezhuang", "12", "2", "301")
    assert p.unparsed == []


def test_compound_of_another_community_is_not_matched(jinshan):
    p = parse("金泰和庄3号楼下水道堵了", jinshan)
    assert p.compound is None and "compound" in p.unparsed and p.building == "3"


@pytest.mark.parametrize("text", ["12-2-301漏水", "12－2－301 漏水", "12 - 2 - 301漏水", "12#2-301", "12＃2-301室"])
def test_building_unit_room_shorthand(text):
    p = parse(text)
    assert (p.building, p.unit, p.room) == ("12", "2", "301")
    assert p.unparsed == ["compound"]


def test_four_digit_room_and_leading_zero():
    p = parse("05-1-1203 卫生间往下渗水")
    assert (p.building, p.unit, p.room) == ("5", "1", "1203")


@pytest.mark.parametrize(
    ("text", "building"),
    [
        ("十二幢", "12"),
        ("十二幢楼下的路灯坏了", "12"),
        ("5座", "5"),
        ("5座电梯困人了", "5"),
        ("二十三栋门口", "23"),
        ("三号楼", "3"),
        ("8#楼顶漏水", "8"),
        ("10 栋", "10"),
    ],
)
def test_building_spellings(text, building):
    p = parse(text)
    assert p.building == building
    assert "building" not in p.unparsed


@pytest.mark.parametrize(
    "text",
    [
        "小区门口那条路坑坑洼洼的，下雨天根本没法走",
        "路口的井盖不见了，晚上很危险",
        "从上个月28号开始小区门口的路灯就一直不亮",
        "3月5号到现在垃圾都没人清",
        "楼道灯坏了3天了，一楼都进不去",
        "",
    ],
)
def test_text_without_place_guesses_nothing(text, jinshan):
    p = parse(text, jinshan)
    assert (p.compound, p.building, p.unit, p.room) == (None, None, None, None)
    assert p.unparsed == ["compound", "building", "unit"]


def test_without_community_compound_is_unparsed():
    p = parse("金泰和庄3号楼2单元")
    assert p.compound is None and p.unparsed == ["compound"]


def test_room_after_building():
    p = parse("我是3栋502的，卫生间漏水")
    assert (p.building, p.room) == ("3", "502")


@pytest.mark.parametrize(
    ("text", "hint", "channel", "kind"),
    [
        ("12栋楼道灯不亮", None, "wechat_group", "problem"),
        ("建议在3号楼旁边加装充电桩", None, "miniprogram", "suggestion"),
        ("希望能多安排几次垃圾清运", None, "door_visit", "suggestion"),
        ("能不能增加几个休息的长椅", None, "opinion_box", "suggestion"),
        ("小区里多种点花", None, "wish_wall", "suggestion"),
        ("建议在3号楼旁边加装充电桩", "problem", "miniprogram", "problem"),
        ("下水道堵了", "suggestion", "hotline_12345", "suggestion"),
        ("下水道堵了", "nonsense", "counter", "problem"),
    ],
)
def test_infer_kind(text, hint, channel, kind):
    assert domain.infer_kind(text, hint, channel) == kind


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("@物业 12栋2单元楼道灯又不亮了[图片]", "@物业 12栋2单元楼道灯又不亮了"),
        ("[语音]  下水道\n\n又堵了[表情][表情]", "下水道 又堵了"),
        ("看这个[视频]和这个[链接]怎么办", "看这个 和这个 怎么办"),
        ("\t  电梯 坏了  \r\n", "电梯 坏了"),
        ("[红包]谢谢大家", "[红包]谢谢大家"),
        ("[图片]", ""),
    ],
)
def test_clean_text(raw, clean):
    assert domain.clean_text(raw) == clean


def test_tracking_codes_alphabet_length_and_uniqueness():
    codes = [domain.new_tracking_code() for _ in range(10_000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 8 for c in codes)
    assert set("".join(codes)) <= set(domain.TRACKING_ALPHABET)
    assert not set("01OIL") & set(domain.TRACKING_ALPHABET)
    assert len(set("".join(codes))) == len(domain.TRACKING_ALPHABET)  # every symbol is used


@pytest.mark.parametrize(
    "phone", ["13912345678", "19800001111", "138 1234 5678", "138-1234-5678", "15012345678", "17712345678"]
)
def test_valid_phone(phone):
    assert domain.valid_phone(phone)


@pytest.mark.parametrize(
    "phone",
    ["", "12345678901", "1391234567", "139123456789", "10012345678", "0791-1234567", "1391234567a", "+8613912345678"],
)
def test_invalid_phone(phone):
    assert not domain.valid_phone(phone)


@pytest.mark.parametrize(
    ("text", "names", "rooms", "out"),
    [
        ("我是3栋502的张伟，卫生间漏水", ["张伟"], ["502"], "我是3栋某室的居民，卫生间漏水"),
        ("12-2-301欧阳娜娜家漏水", ["欧阳娜娜"], ["2单元301室"], "12-2-某室居民家漏水"),
        ("1502和502都漏水", [None], ["502"], "1502和某室都漏水"),
        ("王说楼道灯坏了", ["王"], [None], "王说楼道灯坏了"),  # one character is not a name worth masking
        ("住5号楼，3楼漏水", [" 李四 "], ["5", None], "住5号楼，3楼漏水"),
    ],
)
def test_redact_known(text, names, rooms, out):
    assert domain.redact_known(text, names=names, rooms=rooms) == out
