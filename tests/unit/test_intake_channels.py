"""Channel normalisers with messy real-world Chinese input: visit sheets, 12345 orders, Open311 views, WeCom."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from pydantic import ValidationError

from adapters.wecom_bot.app import Callback, Config, Refused, open_message, parse_plain, to_envelope, verify_url
from services.contracts import events
from services.intake import door_visits as dv
from services.intake.hotline import HotlineOrderIn
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


# WeCom's published sample for callback encryption (加解密方案说明, developer.work.weixin.qq.com/document/path/90968;
# the same values are in Tencent's WXBizMsgCrypt samples).
_ENC = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs"
    "3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5g"
    "sijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax"
    "5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHB"
    "ZZIs2pDBS8R07+qN+E7Q=="
)
WECOM_SAMPLE = {
    "token": "QDG6eK",
    "aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "receive_id": "wx5823bf96d3bd56c7",
    "verify": {
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "timestamp": "1409659589",
        "nonce": "263014780",
        "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    },
    "echo_plain": "1616140317555161061",
    "message_query": {
        "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
        "timestamp": "1409659813",
        "nonce": "1372623149",
    },
    "message_body": f"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{_ENC}]]></Encrypt>"
    "<AgentID><![CDATA[218]]></AgentID></xml>",
}


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature as WeCom's documentation defines it: SHA1 of the four strings sorted and joined."""
    import hashlib

    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def _sample_config(**over) -> Config:
    s = WECOM_SAMPLE
    return Config(
        **{
            "amqp_url": "",
            "token": s["token"],
            "aes_key": s["aes_key"],
            "chats": {},
            "receive_id": s["receive_id"],
            **over,
        }
    )


def test_wecom_signature_rule_matches_the_published_sample():
    v, q = WECOM_SAMPLE["verify"], WECOM_SAMPLE["message_query"]
    assert signature("QDG6eK", v["timestamp"], v["nonce"], v["echostr"]) == v["msg_signature"]
    assert signature("QDG6eK", q["timestamp"], q["nonce"], _ENC) == q["msg_signature"]


def test_wecom_url_verification_with_the_published_sample():
    v = WECOM_SAMPLE["verify"]
    assert (
        verify_url(
            _sample_config(),
            **v,
        )
        == "1616140317555161061"
    )
    with pytest.raises(Refused):
        verify_url(_sample_config(), **{**v, "nonce": "263014781"})
    with pytest.raises(Refused):
        verify_url(_sample_config(token="QDG6eL"), **v)
    with pytest.raises(Refused):  # a good signature, but sealed for another receiver
        verify_url(_sample_config(receive_id="wwOtherCorp"), **v)


def test_wecom_message_with_the_published_sample():
    q, body = WECOM_SAMPLE["message_query"], WECOM_SAMPLE["message_body"].encode()
    then = int(q["timestamp"]) + 5
    plain = open_message(_sample_config(), q["msg_signature"], q["timestamp"], q["nonce"], body, then)
    assert "<Content><![CDATA[hello]]></Content>" in plain and "<MsgId>4561255354251345929</MsgId>" in plain
    cb = parse_plain(plain)
    assert (cb.msgtype, cb.msgid, cb.chatid, cb.sender.userid, cb.text.content) == (
        "text",
        "4561255354251345929",
        "",
        "mycreate",
        "hello",
    )
    with pytest.raises(Refused):  # replayed ten minutes later
        open_message(_sample_config(), q["msg_signature"], q["timestamp"], q["nonce"], body, then + 600)
    with pytest.raises(Refused):
        open_message(_sample_config(), "0" * 40, q["timestamp"], q["nonce"], body, then)


def test_wecom_group_robot_callback_becomes_an_envelope():
    cb = Callback.model_validate(
        {
            "msgtype": "text",
            "msgid": "m-1",
            "chatid": "wrkA",
            "from": {"userid": "liu", "name": "刘秀英"},
            "text": {"content": " @物业 楼道灯不亮 "},
            "create_time": 1709860000,
        }
    )
    env = to_envelope(cb, "xueyuan", dt.datetime.now(dt.UTC))
    again = to_envelope(cb, "xueyuan", dt.datetime.now(dt.UTC))
    assert env.id == again.id and env.community == "xueyuan" and env.source == "/adapters/wecom_bot"
    msg = events.ChannelMessage.model_validate(env.data)
    assert (msg.channel, msg.channel_message_id, msg.text) == ("wechat_group", "m-1", "@物业 楼道灯不亮")
