"""The WeCom adapter's callback security against WeCom's published sample, and its message mapping (no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.wecom_bot.app import Callback, Config, Refused, open_message, parse_plain, to_envelope, verify_url
from services.contracts import events

pytestmark = pytest.mark.unit


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
