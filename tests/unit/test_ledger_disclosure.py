"""Monthly disclosure: no phone, full name or room number survives in any of the four formats."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

from services.ledger import disclosure
from services.ledger.models import Entry, SupportingTask, TimelineItem

pytestmark = pytest.mark.unit

TZ = dt.timezone(dt.timedelta(hours=8))
START, END = dt.datetime(2026, 10, 1, tzinfo=TZ), dt.datetime(2026, 11, 1, tzinfo=TZ)
NOW = dt.datetime(2026, 11, 2, 9, tzinfo=TZ)
PHONE = re.compile(r"1[3-9]\d{9}")
FULL_NAMES = ["王建国", "李秀英", "张德明", "赵丽华", "陈志强", "刘建军", "孙桂兰", "周海燕"]
ROOMS = ["2单元301", "12-2-301", "302室", "502室", "栋502", "单元602", "1201房", "7-1-1102"]


def entry(n: int, title: str, measures: str, *, state: str = "in_progress", **kw) -> Entry:
    return Entry(
        id=f"ent_{n:020d}",
        matter_id=f"mat_{n}",
        community="jinshan",
        compound=kw.pop("compound", "jinghuhuayuan"),
        building=kw.pop("building", "3"),
        category=kw.pop("category", "drainage"),
        level=kw.pop("level", "yellow"),
        route="deliberate",
        title=title,
        state=state,
        measures=measures,
        lead_party="property_company",
        lead_unit="江西恒泰物业服务有限公司",
        supporting_units=["金山社区党委"],
        deadline=dt.datetime(2026, 10, 20, 18, tzinfo=TZ),
        created_at=kw.pop("created_at", dt.datetime(2026, 10, 9, 10, tzinfo=TZ)),
        updated_at=NOW,
        completed_at=kw.pop("completed_at", None),
        closed_at=kw.pop("closed_at", None),
        overdue=kw.pop("overdue", False),
    )


def note(entry_id: str, seq: int, text: str, action: str = "progress") -> TimelineItem:
    return TimelineItem(
        entry_id=entry_id,
        seq=seq,
        at=dt.datetime(2026, 10, 12 + seq, 10, tzinfo=TZ),
        actor="u",
        action=action,
        note=text,
    )


def dataset() -> tuple[list[Entry], dict[str, list[TimelineItem]], dict[str, list[SupportingTask]]]:
    entries = [
        entry(
            1,
            "我是王建国，金泰和庄12号楼2单元301下水道反复堵塞，电话13812345678",
            "物业联系李秀英阿姨，施工期间12-2-301、302室住户不用下水道",
        ),
        entry(
            2,
            "3栋502室楼上漏水，姓孙的大爷家也受影响",
            "联系人：陈志强 13987654321，物业上门查看",
            level="red",
            overdue=True,
        ),
        entry(
            3,
            "路灯不亮，孙桂兰阿姨晚上摔倒",
            "更换灯具",
            state="completed",
            completed_at=dt.datetime(2026, 10, 15, 16, tzinfo=TZ),
            category="lighting",
            level="green",
        ),
        entry(
            4,
            "电梯困人，住户周海燕（5号楼1单元602）报事，手机 139 1234 5678",
            "维保单位检修，7-1-1102 业主配合",
            category="elevator",
        ),
        entry(
            5,
            "去年的停车问题",
            "划线",
            state="closed",
            created_at=dt.datetime(2026, 8, 1, tzinfo=TZ),
            closed_at=dt.datetime(2026, 9, 1, tzinfo=TZ),
        ),
        entry(6, "上月的绿化问题", "补种", created_at=dt.datetime(2026, 9, 5, tzinfo=TZ)),
    ]
    timelines = {
        entries[0].id: [
            note(entries[0].id, 1, "已与张德明师傅沟通"),
            note(entries[0].id, 2, "住户赵丽华反映1201房也渗水，业主刘建军说已修好 18807941234"),
            note(entries[0].id, 3, "已超期", action="overdue"),
        ],
        entries[1].id: [note(entries[1].id, 1, "我叫刘建军，电话0794-8123456，请尽快处理")],
    }
    supporting = {
        entries[0].id: [
            SupportingTask(
                id="sup_1",
                entry_id=entries[0].id,
                community="jinshan",
                unit="金山社区党委",
                created_at=NOW,
                updated_at=NOW,
            )
        ]
    }
    return entries, timelines, supporting


def content() -> dict:
    entries, timelines, supporting = dataset()
    previous = disclosure.summarise(entries, dt.datetime(2026, 9, 1, tzinfo=TZ), START)
    return disclosure.build("jinshan", "2026-10", entries, timelines, supporting, START, END, previous, NOW)


def rendered(c: dict) -> dict[str, str]:
    meta = {"version": 1, "versions": 1, "sha256": disclosure.digest(c), "created_at": NOW}
    wb = load_workbook(io.BytesIO(disclosure.to_xlsx(c, meta)))
    cells = "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None
    )
    html = disclosure.to_html(c, meta).replace(meta["sha256"][:16], "")
    return {"html": html, "csv": disclosure.to_csv(c).decode("utf-8-sig"), "xlsx": cells, "txt": disclosure.to_txt(c)}


def test_no_personal_data_survives_in_any_format():
    c = content()
    for fmt, text in rendered(c).items():
        assert not PHONE.search(re.sub(r"\s|-", "", text)), f"{fmt}: phone number left"
        assert "0794-8123456" not in text, fmt
        for name in FULL_NAMES:
            assert name not in text, f"{fmt}: name {name} left"
        for room in ROOMS:
            assert room not in text, f"{fmt}: room {room} left"
        assert "金泰和庄" in text or fmt == "txt"  # compound names stay
    # What is kept: compound, building and unit; a person becomes 居民, a room 某室, a phone [电话] — nothing masked.
    first = c["matters"][1]
    assert first["title"].startswith("我是居民，") and "12号楼2单元某室" in first["title"]
    assert "[电话]" in first["title"] and first["lead_unit"] == "江西恒泰物业服务有限公司"
    assert first["compound"] == "景湖花园" and first["building"] == "3号楼"


def test_matters_listed_and_summary_with_the_change_from_last_month():
    c = content()
    # Closed before October: not listed; registered in September and still open: listed.
    assert [m["ref"] for m in c["matters"]] == [f"{n:08d}" for n in (6, 1, 2, 3, 4)]
    assert c["summary"] == {"listed": 5, "new": 4, "completed": 1, "overdue": 1, "open": 4}
    assert c["previous"] == {"listed": 2, "new": 1, "completed": 0, "overdue": 0, "open": 1}  # #5 closed Sep 1
    assert c["change_from_previous_month"] == {"listed": 3, "new": 3, "completed": 1, "overdue": 1, "open": 3}
    m = c["matters"][2]
    assert (m["level"], m["level_zh"], m["overdue"], m["deadline"]) == ("red", "红", True, "2026-10-20")
    assert m["progress"] == "2026-10-13 我叫居民，电话[电话]，请尽快处理"
    first = c["matters"][1]
    assert "住户反映某室也渗水" in first["progress"] and first["supporting_units"] == ["金山社区党委"]


def test_html_is_a_printable_a4_page_with_level_colours():
    html = rendered(content())["html"]
    assert "@page { size: A4" in html and "Noto Sans CJK SC" in html
    assert "#D93025" in html and "#188038" in html  # red and green marks
    assert "较上月" in html and "金山社区 2026年10月 议事事项办理情况公示" in html


def test_txt_for_wechat_is_short_even_with_many_matters():
    entries = [entry(i, f"景湖花园{i}号楼楼道灯不亮，请物业尽快更换灯具并检查线路", "更换") for i in range(1, 120)]
    c = disclosure.build("jinshan", "2026-10", entries, {}, {}, START, END, None, NOW)
    txt = disclosure.to_txt(c)
    assert len(txt) <= 1000 and "另有" in txt and txt.startswith("【金山社区2026年10月议事事项公示】本月新增119件")


def test_a_correction_diff_names_what_changed():
    old = content()
    entries, timelines, supporting = dataset()
    entries[1].state = "completed"
    entries[1].completed_at = dt.datetime(2026, 10, 30, tzinfo=TZ)
    new = disclosure.build("jinshan", "2026-10", entries, timelines, supporting, START, END, old["previous"], NOW)
    d = disclosure.diff(old, new)
    ref = entries[1].id[-8:]
    assert d["added"] == [] and d["removed"] == []
    assert d["changed"][ref]["state"] == ["in_progress", "completed"]
    assert d["summary"]["completed"] == 1 and d["summary"]["open"] == -1
    assert disclosure.digest(old) != disclosure.digest(new)


MASKED = re.compile(r"\d{3}\*{4}\d{4}|[\u4e00-\u9fff]\*{2}|hh_[0-9a-f]{6}")


def test_masked_leftovers_frozen_by_an_older_scrubber_are_not_rendered():
    # A version published before the scrubber knew better: masked names, phones and household references.
    c = content()
    c["matters"][0] |= {
        "title": "住户刘**（电话139****5714）反映下水道堵塞",
        "measures": "督促整改：原报事人（hh_3fa9c2d1e0b7a6c5d4e3）反映问题未解决",
        "progress": "2026-10-14 已为王小明（电话+86 138 1234 5678，身份证110105 19800101 123X）疏通下水道",
    }
    for fmt, text in rendered(c).items():
        assert not MASKED.search(text), f"{fmt}: {MASKED.search(text).group()!r}"
        for secret in ("刘**", "5714", "王小明", "1234 5678", "123X", "hh_"):
            assert secret not in text, f"{fmt}: {secret}"
    shown = disclosure.public(c)["matters"][0]
    assert shown["title"] == "住户（电话[电话]）反映下水道堵塞"
    assert shown["progress"] == "2026-10-14 已为居民（电话[电话]，身份证[证件号]）疏通下水道"
    assert disclosure.public(content()) == content()  # current versions render exactly as stored


def test_residents_verdict_is_shown_without_who_said_what():
    entries, timelines, supporting = dataset()
    timelines[entries[1].id].append(
        note(
            entries[1].id,
            2,
            "居民不满意，第2轮重办：原报事人（hh_3fa9c2d1e0b7a6c5d4e3）反映问题未解决：「还漏」",
            "evaluate_unsatisfied",
        )
    )
    c = disclosure.build("jinshan", "2026-10", entries, timelines, supporting, START, END, None, NOW)
    m = next(m for m in c["matters"] if m["ref"] == entries[1].id[-8:])
    assert m["progress"] == "2026-10-14 居民评价不满意，督促责任单位重新整改"
