"""Channel normalisers with messy real-world Chinese input: visit sheets, 12345 orders, Open311 views, WeCom."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from pydantic import ValidationError

from services.intake import door_visits as dv
from services.intake.hotline_api import HotlineOrderIn
from services.intake.models import Report
from services.intake.open311 import SERVICES, masked_address, published
from services.runtime.directory import load_directory

pytestmark = pytest.mark.unit


@pytest.fixture
def xueyuan():
    return load_directory().community("xueyuan")


def sheet(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


MESSY = """学苑社区2024年3月走访台账,,,,,,,,,
 日期 ,走访人员,小区名称,楼号,单元号,门牌号,户主姓名,手机号码,问题描述,类型
2024.3.5,艾伟东,金泰和庄小区,１２号楼,二单元,301室,刘秀英,+86 138-0000-2031,"下水道又堵了，
一楼门市进水",问题
,,,,,,,,,
2024年03月06日,艾伟东,,,,,,,  建议增设充电桩  ,意见建议
3月7日,艾伟东,书香园,A座,,,,1380000,,其他
"""


def test_messy_csv_with_title_row_blank_lines_and_full_width_digits(xueyuan):
    for enc in ("utf-8", "utf-8-sig", "gbk"):
        meta, rows = dv.parse_sheet(sheet(MESSY, enc), xueyuan)
        assert meta["format"] == "csv" and meta["encoding"] == ("gb18030" if enc == "gbk" else "utf-8")
        assert [r.number for r in rows] == [3, 5, 6]  # as Excel numbers rows (a quoted line break stays in one)
        first, second, bad = rows
        assert not first.errors and first.values["compound"] == "jintaihezhuang"
        assert (first.values["building"], first.values["unit"], first.values["room"]) == ("12", "2", "301")
        assert first.values["phone"] == "13800002031" and first.visited_on == dt.date(2024, 3, 5)
        assert first.values["text"] == "下水道又堵了， 一楼门市进水" and first.values["kind"] == "problem"
        assert not second.errors and second.values["kind"] == "suggestion" and second.values["text"] == "建议增设充电桩"
        assert {e["field"] for e in bad.errors} == {"date", "compound", "phone", "text", "kind"}
        assert {e["column"] for e in bad.errors} >= {"日期", "小区名称", "手机号码", "问题描述", "类型"}


def test_message_id_is_stable_across_formats_and_differs_by_community(xueyuan):
    _, csv_rows = dv.parse_sheet(sheet(MESSY, "gbk"), xueyuan)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["日期", "走访人", "小区", "楼栋", "单元", "房号", "居民姓名", "联系电话", "反映问题", "类型(问题/建议)"])
    ws.append([dt.datetime(2024, 3, 5), "艾伟东", "金泰和庄", 12, 2, 301, "刘秀英", 13800002031,
               "下水道又堵了，\n一楼门市进水", "问题"])  # fmt: skip
    buf = io.BytesIO()
    wb.save(buf)
    meta, xlsx_rows = dv.parse_sheet(buf.getvalue(), xueyuan)
    assert meta["format"] == "xlsx"
    assert xlsx_rows[0].message_id("xueyuan") == csv_rows[0].message_id("xueyuan")
    assert csv_rows[0].message_id("jinshan") != csv_rows[0].message_id("xueyuan")
    assert csv_rows[0].message_id("xueyuan") != csv_rows[1].message_id("xueyuan")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05", dt.date(2024, 3, 5)),
        ("2024/3/5", dt.date(2024, 3, 5)),
        ("2024年3月5日", dt.date(2024, 3, 5)),
        ("2024.03.05 14:30", dt.date(2024, 3, 5)),
        (45356, dt.date(2024, 3, 5)),  # Excel serial day
        (dt.datetime(2024, 3, 5, 9), dt.date(2024, 3, 5)),
        ("2024-02-30", None),
        ("上周三", None),
    ],
)
def test_visit_dates(raw, expected):
    assert dv._date(raw) == expected


def test_files_that_are_not_sheets(xueyuan):
    with pytest.raises(dv.FileProblem) as e:
        dv.parse_sheet(b"\x89PNG\r\n\x1a\n\x00\x00", xueyuan)
    assert e.value.status == 415
    with pytest.raises(dv.FileProblem) as e:
        dv.parse_sheet("姓名,电话\n王五,138\n".encode(), xueyuan)
    assert e.value.status == 422 and e.value.errors[0]["field"] == "file"
    tab = "反映问题\t小区\n楼道灯不亮\t金泰和庄\n".encode("gb18030")
    _, rows = dv.parse_sheet(tab, xueyuan)  # tab-separated "Unicode text" from Excel
    assert rows[0].values["compound"] == "jintaihezhuang"


def test_hotline_order_accepts_the_orders_own_field_names():
    o = HotlineOrderIn.model_validate(
        {
            "community": "xueyuan",
            "工单编号": " jx２０２４0308-00127 ",
            "来电时间": "2024-03-08T08:12:00+08:00",
            "诉求内容": "小区路灯不亮",
            "联系电话": "138 0000 2031",
            "承办时限": "2024-03-13T18:00:00+08:00",
        }
    )
    assert o.order_no == "JX20240308-00127" and o.contact_phone == "13800002031"
    with pytest.raises(ValidationError):
        HotlineOrderIn.model_validate({"community": "x", "工单编号": "ok-1", "来电时间": "昨天", "诉求内容": "x"})
    with pytest.raises(ValidationError):
        HotlineOrderIn.model_validate(
            {"community": "x", "工单编号": "ok-1", "来电时间": "2024-03-08T08:12:00", "诉求内容": "  "}
        )


def test_open311_publishes_compound_and_building_only(xueyuan):
    now = dt.datetime(2024, 3, 8, 1, 0, tzinfo=dt.UTC)
    r = Report(id="rpt_1", community="xueyuan", tracking_code="ABCDEFGH", channel="open311", channel_message_id="o",
               kind="problem", text="12栋2单元下水道堵了", text_raw_enc=b"", compound="jintaihezhuang", building="12",
               unit="2", room_enc=b"x", reporter_ref="r", reporter_name_masked="刘**",
               reporter_phone_masked="138****2031", received_at=now, updated_at=now, category_hint="drainage",
               status="closed", status_note="已销号")  # fmt: skip
    doc = published(r)
    assert doc["address"] == "金泰和庄12号楼" and doc["status"] == "closed" and doc["status_notes"] == "已销号"
    assert doc["service_name"] == "排水" and doc["requested_datetime"] == "2024-03-08T01:00:00+00:00"
    assert "刘" not in str(doc) and "2031" not in str(doc)
    r.compound = None
    assert masked_address(r, xueyuan) == "学苑社区"
    assert all(len(v) == 4 for v in SERVICES.values())


# ---------------------------------------------------------------- callback consent (同意回电) from every channel


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("是", True), ("同意", True), ("√", True), ("Yes", True), ("1", True), ("true", True),
     ("否", False), ("不同意", False), ("", False), (None, False), ("no", False), ("0", False),
     ("也许", None), ("2", None)],
)  # fmt: skip
def test_consent_words(raw, expected):
    from services.intake.domain import consent_value

    assert consent_value(raw) is expected


def test_door_visit_sheet_may_carry_callback_consent_without_changing_row_ids(xueyuan):
    _, plain = dv.parse_sheet(sheet(MESSY), xueyuan)
    with_column = MESSY.replace("手机号码,问题描述,类型", "手机号码,问题描述,类型,同意回电").replace(
        '一楼门市进水",问题', '一楼门市进水",问题,是'
    )
    _, rows = dv.parse_sheet(sheet(with_column), xueyuan)
    assert rows[0].callback_consent is True and rows[1].callback_consent is False
    assert plain[0].callback_consent is False
    # A re-upload of last month's file with the new column is still the same report.
    assert rows[0].message_id("xueyuan") == plain[0].message_id("xueyuan")
    bad = with_column.replace(",问题,是", ",问题,也许")
    _, rows = dv.parse_sheet(sheet(bad), xueyuan)
    assert [e["field"] for e in rows[0].errors] == ["callback_consent"]
    assert rows[0].errors[0]["column"] == "同意回电"


def test_hotline_order_carries_callback_consent_by_its_own_name():
    base = {"community": "xueyuan", "工单编号": "JX-1", "来电时间": "2024-03-08T08:12:00+08:00", "诉求内容": "路灯不亮"}
    assert HotlineOrderIn.model_validate(base).callback_consent is False
    assert HotlineOrderIn.model_validate({**base, "同意回电": "是"}).callback_consent is True
    assert HotlineOrderIn.model_validate({**base, "callback_consent": True}).callback_consent is True
    with pytest.raises(ValidationError):
        HotlineOrderIn.model_validate({**base, "同意回电": "也许"})
