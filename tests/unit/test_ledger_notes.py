"""The English twins of the ledger's timeline notes (services/ledger/notes.py).

Fast and pure: every sentence the ledger writes is built the way its writer builds it and read back as a stored
row would be (its action and Chinese note); no database is opened.
"""

from __future__ import annotations

import datetime as dt

import pytest

from services.contracts import labels, measures
from services.ledger import notes
from services.ledger.ownervotes import vote_note
from tests.english import assert_words, codes

pytestmark = pytest.mark.unit

# What the ledger only carries (units, places, staff words) is quoted as written.
CODES = codes("level", "route", extra=r"in_progress|on_call|hh_[0-9a-f]+|entry\.\w+")
AT = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


def _clean(en: str) -> None:
    assert_words(en, codes=CODES)
    assert "【" not in en and "「" not in en, en


def _vote(**kw):
    from services.contracts import events

    base = dict(
        vote_id="v1",
        matter_id="m1",
        question="加装电梯",
        item=6,
        rule="major",
        passed=True,
        participation_met=True,
        voted_owners=40,
        total_owners=50,
        voted_area_m2="3000.50",
        total_area_m2="4000.00",
        for_owners=35,
        for_area_m2="2800.00",
    )
    base.update(kw)
    fields = events.OwnerVoteClosed.model_fields
    return events.OwnerVoteClosed.model_construct(**{k: v for k, v in base.items() if k in fields})


# (timeline action, the Chinese note as its writer builds it, words the English must contain)
CASES = [
    ("register", notes.REGISTERED, "Entered in the ledger"),
    ("claim", notes.CLAIMED, "Claimed"),
    ("start", notes.STARTED, "Work started"),
    ("start", notes.CLAIMED_AND_STARTED, "Claimed and started"),
    ("return", notes.RETURNED, "returned for verification"),
    ("close", notes.CLOSED, "Crossed off"),
    ("overdue", notes.OVERDUE, "Overdue"),
    ("note", notes.RESOLVED_BUT_DONE, "already done"),
    ("note", notes.ESCALATE_NOT_NOW, "cannot be handed over"),
    ("assign", notes.SESSION_ESCALATED, "hand-over"),
    ("page", notes.ALERT_GAVE_UP, "paging stopped"),
    *[
        ("assign", notes.assigned_direct(base, "幸福物业", why) + notes.order_deadline(AT), "“幸福物业”")
        for base in notes.DIRECT_BASES
        for why in notes.WHY_EN
    ],
    ("assign", notes.assigned_direct("按类别直接交办", None, "社区负责"), "the community"),
    ("assign", notes.assigned_direct("督促整改，重新交办原责任单位", None, None), "same lead unit"),
    *[("assign", notes.assigned_red(base, "应急抢修队"), "“应急抢修队”") for base in notes.RED_BASES],
    ("assign", notes.assigned_red("红色事项立即交办值班责任单位", None), "unit on duty"),
    ("note", notes.assigned_red("升为红色，立即交办值班责任单位", "应急抢修队"), "Raised to Red"),
    ("note", notes.order_earlier(notes.order_deadline(AT)), "12-05 17:00"),
    ("note", notes.more_households(3), "3 households"),
    ("note", notes.more_households(1), "1 household affected"),
    ("regrade", notes.regraded("yellow", "red", "三户反映漏水"), "from Yellow to Red (“三户反映漏水”)"),
    ("regrade", "重新定级：green→yellow（人工复核）", "from Green to Yellow"),  # a row from before the words
    ("note", notes.session_scheduled("scheduled", None, AT, "社区会议室"), "On the agenda of the deliberation"),
    ("note", notes.session_scheduled("rescheduled", "阳光小区议事会", AT, "活动室"), "moved (2026-12-05 17:00"),
    ("note", notes.session_scheduled("cancelled", None, AT, "活动室"), "cancelled"),
    *[("note", notes.session_outcome(o, "再议"), labels.en("outcome", o)) for o in notes.SESSION_OUTCOME_ZH],
    ("note", notes.session_outcome("deferred", None), "Session decision: Deferred"),
    ("assign", notes.session_resolved("更换路灯") + notes.order_deadline(AT), "Decided at the session: “更换路灯”"),
    ("assign", notes.session_resolved(measures.BY_SESSION), "As the session decided"),
    ("resolve", notes.session_readopted("更换路灯"), "decided again"),
    ("escalate", notes.handed_over("城管局", "权限"), "Handed over to “城管局” (“权限”)"),
    ("escalate", notes.handed_over("城管局"), "Handed over to “城管局”"),
    ("escalate", notes.handed_over_by("城管局", "请处理"), "“请处理”"),
    ("progress", notes.department_progress("供电公司", "已修"), "From “供电公司”: “已修”"),
    ("progress", notes.department_progress(None, "已修"), "From the department"),
    *[("note", notes.round_rating(1, r), labels.en("rating", r)) for r in labels.RATING],
    ("evaluate_satisfied", notes.satisfied(0.85), "satisfaction 85%"),
    ("evaluate_satisfied", notes.satisfied(None), "Residents satisfied"),
    *[("note", notes.reopen_refused(2, s), labels.en("ledger_state", s)) for s in labels.LEDGER_STATE],
    *[("note", notes.round_measures(1, m), en) for m, en in measures.MEASURES_EN.items()],
    ("note", notes.round_measures(1, "更换路灯"), "“更换路灯”"),
    ("evaluate_unsatisfied", notes.reopened(2, "没修好；还漏"), "round 2 reopened: “没修好”; “还漏”"),
    ("assign", notes.supervised("社区党委"), "led by “社区党委”"),
    ("assign", notes.supervised(None), "party organisation"),
    *[("page", notes.paged(t, 2, 1), notes.TIER_EN[t]) for t in notes.TIER_ZH],
    ("page", notes.paged("on_call", 1, 3), "1 person, page 3"),
    *[("ack", notes.acknowledged(v), notes.VIA_EN[v]) for v in notes.VIA_ZH],
    *[("escalate_alert", notes.alert_escalated(t), notes.TIER_EN[t]) for t in notes.TIER_ZH],
    ("remind", notes.first_action_late(AT), "First response late"),
    ("remind", notes.first_action_late(None), "First response late"),
    *[("remind", notes.reminded(k, "物业", s, AT), notes.REMINDER_EN[k]) for k in notes.REMINDER_ZH for s in (0, 1)],
    ("remind", notes.reminded("overdue", None, False, AT), "none set yet"),
    ("commit", notes.promised("恢复原样", "物业", AT), "Promise made at the session: “恢复原样” (by “物业”"),
    ("remind", notes.promise_due("恢复原样", "物业", AT), "Promise due for checking"),
    *[
        ("commit_check", notes.promise_checked("恢复原样", s, "已核实"), labels.en("commitment_state", s))
        for s in notes.COMMITMENT_CHECK_ZH
    ],
    ("note", notes.support_added("供电公司", AT), "Supporting unit added: “供电公司”"),
    ("note", notes.support_added("供电公司", None), "deadline not set"),
    ("support_claim", notes.support_acted("供电公司", "claim", notes.CLAIMED), "“供电公司” claimed"),
    ("support_progress", notes.support_acted("供电公司", "progress", "在修"), "reported progress: “在修”"),
    ("support_complete", notes.support_acted("供电公司", "complete", "修好了"), "finished its part"),
    ("merge", notes.merged_away("路灯坏了", "同一盏灯"), "Merged into the matter “路灯坏了”"),
    ("note", notes.took_in("路灯", 2, "同一盏灯"), "Took in 2 reports"),
    ("note", notes.split_off(1, "新事项", "不同楼"), "1 report split off"),
    ("note", vote_note(_vote()), "item 6, needs three quarters in favour): passed"),
    ("note", vote_note(_vote(item=None, rule="ordinary", passed=False, participation_met=False)), "void"),
    ("note", vote_note(_vote(passed=False)), "not passed"),
]


@pytest.mark.parametrize(("action", "note", "words"), CASES)
def test_every_note_reads_in_english_words(action, note, words):
    en = notes.english(action, note)
    assert en != note, f"{action}: {note} has no English"
    assert words in en, en
    _clean(en)


def test_staff_notes_stay_as_typed_and_empty_stays_empty():
    assert notes.english("progress", "我们已经修好了") == "我们已经修好了"
    assert notes.english("complete", "已完成维修") == "已完成维修"
    assert notes.english("note", None) is None


def test_new_regrade_rows_say_levels_in_words_not_codes():
    assert notes.regraded("yellow", "red", "x") == "重新定级：黄→红（x）"


def test_revisit_measures_in_english():
    direct = f"{measures.DIRECT}；{measures.COMPLETION_NOTE}已更换灯泡"
    en = measures.revisit_measures_en(direct)
    assert en == f"{measures.MEASURES_EN[measures.DIRECT]}; Completion note: “已更换灯泡”"
    assert measures.revisit_measures_en("更换路灯") == "“更换路灯”"
    assert measures.revisit_measures_en(f"{measures.COMPLETION_NOTE}好了") == "Completion note: “好了”"
    assert measures.revisit_measures_en(None) is None
    for en in measures.MEASURES_EN.values():
        _clean(en)
