"""The hazard taxonomy: what a text's hazards are, whether harm is here now, and who is exposed."""

from __future__ import annotations

import pytest

from services.triage import hazards, segment, urgent
from services.triage.rules import CATEGORIES

pytestmark = pytest.mark.unit


def _read(text: str) -> hazards.Reading:
    return hazards.reading(hazards.prepare(text))


def _hits(text: str) -> set[tuple[str, str]]:
    return {(h.hazard, h.status) for h in _read(text).hits}


def test_every_hazard_is_documented_and_maps_to_a_category():
    ids = [h.id for h in hazards.HAZARDS]
    assert len(ids) == len(set(ids)) >= 14
    for h in hazards.HAZARDS:
        assert h.label and h.source and h.category in CATEGORIES and h.signs
        assert h.when in ("always", "exposed", "vulnerable")
        assert bool(h.objects) == bool(h.states)  # a pair needs both families


@pytest.mark.parametrize(
    ("text", "hazard", "status"),
    [
        ("家里闻到一点煤气味，不知道要不要紧", "gas", "hedged"),
        ("没有发现燃气泄漏，只是表箱坏了", "gas", "negated"),
        ("如何防止电动车着火？", "fire", "prevention"),
        ("起火的事情已经处理好了", "fire", "resolved"),
        ("去年楼道着火烧了好几家", "fire", "past"),
        ("外墙砖松动了随时会掉下来", "falling_object", "imminent"),
        ("8栋电梯困人了", "lift", "active"),
    ],
)
def test_status_of_a_hazard(text, hazard, status):
    assert (hazard, status) in _hits(text)


def test_calling_the_police_or_fire_brigade_does_not_end_the_danger():
    assert ("fire", "active") in _hits("已经打了119楼道还在冒烟")
    assert ("public_order", "active") in _hits("已报警但那人还拿着刀在楼下转")


def test_object_and_state_pair_across_chat_spaces():
    """Chat writes spaces for commas: the gas pipe and its hiss are one sentence, and still a pair."""
    r = _read("厨房 燃气管 一直嘶嘶声 不知道咋回事")
    assert any(h.hazard == "gas" and not h.sign for h in r.hits)


def test_far_away_prevention_word_does_not_cancel_a_present_hazard():
    """A leaflet drive ("宣传") earlier in the note is not prevention talk about the smell found later."""
    text = "入户燃气安全宣传 东门小区2栋 发放宣传单24户 其中301室门缝有较浓燃气味，屋内无人应答"
    assert ("gas", "active") in _hits(text)
    assert _read(text).red_hits()


def test_exposure_decides_hazards_that_need_it():
    assert not _read("3栋停电了").red_hits()
    assert _read("独居老人王奶奶家停电了").red_hits()
    assert _read("停电三天了，冰箱里东西都坏了").red_hits()
    # An object+state pair (a loose AC unit) is red when people pass beneath, not on its own.
    assert not _read("空调外机的架子锈穿了").red_hits()
    assert _read("空调外机的架子锈穿了，下面就是小区主路").red_hits()


def test_exposure_cues_and_features():
    r = _read("楼道里一股焦味，家里有卧床老人，整栋楼都闻到了")
    assert r.vulnerable and r.crowd
    feats = hazards.features(r)
    assert feats["hz_live"] == 1.0 and feats["exp=vulnerable"] == 1.0 and feats["live&vulnerable"] == 1.0
    assert "hz=fire:active" in feats
    assert hazards.features(_read("小区里的长椅坏了")) == {}


def test_segmenter_knows_the_taxonomy_words():
    """Cue words stay whole ("燃气味", "困人"), so evidence is never cut mid-word."""
    words = segment.words("楼道里一股燃气味，电梯困人了")
    assert "燃气味" in words and "困人" in words
    assert all(segment.is_display_word(w) for w in ("燃气味", "困人")) and not segment.is_display_word("了")


def test_a_text_typed_word_by_word_is_read_as_one_sentence():
    spaced = "河 水 涨 到 桥 面 了 还 有 人 骑 摩托 要 过 去 拦 不 住"
    assert hazards.prepare(spaced) == "河水涨到桥面了还有人骑摩托要过去拦不住"
    chat = "楼道里全是烟 看不清 我们在5楼出不去 119打了"  # a space as a comma between phrases stays
    assert hazards.prepare(chat) == chat


def test_a_call_in_a_story_of_that_day_is_past():
    story = "电梯 困 人 那 天 按 警铃 没 有 人 接 后来 是 打 119 救 的 物业 值班 室 要 24 小时 有人"
    assert urgent.signals(story) == ()
