"""Notice channels chosen from the directory, notice text without personal data, log delivery."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from services.meeting import notices
from services.meeting.models import MeetingSession
from services.runtime.directory import DirectoryError, Notices, load_directory, parse_directory
from services.runtime.notify import LogNotifier, Recipient, SmtpNotifier, WeComNotifier, notifier_for

pytestmark = pytest.mark.unit


def test_channel_comes_from_the_community_notices_block():
    assert isinstance(notifier_for(None), LogNotifier)
    assert isinstance(notifier_for(load_directory().community("xueyuan").notices), LogNotifier)
    hook = notifier_for(Notices(channel="wecom", webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"))
    assert isinstance(hook, WeComNotifier) and hook.broadcast
    mail = notifier_for(Notices(channel="smtp", smtp_host="127.0.0.1", smtp_sender="hall@example.org"))
    assert isinstance(mail, SmtpNotifier) and not mail.broadcast


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"channel": "wecom"}, "webhook_url"),
        ({"channel": "smtp", "smtp_host": "mail"}, "smtp_sender"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_bad_notices_block_names_the_field(block, message):
    import yaml

    from services.runtime.directory import DEFAULT_PATH

    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["communities"][0]["notices"] = block
    with pytest.raises(DirectoryError, match=r"communities\[0\]\.notices") as err:
        parse_directory(data, "county.yaml")
    assert message in str(err.value)


def test_notice_text_is_chinese_and_scrubbed():
    community = load_directory().community("xueyuan")
    s = MeetingSession(
        id="ses_x",
        community="xueyuan",
        kind="site_inspection",
        status="scheduled",
        starts_at=dt.datetime(2026, 12, 11, 1, 30, tzinfo=dt.UTC),
        place="金泰和庄12号楼现场",
        created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        history=[
            {"from": "2026-12-10T01:30:00+00:00", "reason": "联系人13812345678出差", "to": "x", "at": "x", "by": "x"}
        ],
        sequence=1,
    )
    subject, body = notices.render("rescheduled.1", s, ["12号楼2单元301下水道反复堵塞"], community)
    assert subject == "议事会改期：现场勘察"
    assert "时间：2026-12-11 09:30" in body and "地点：金泰和庄12号楼现场" in body and "原定：2026-12-10 09:30" in body
    assert "13812345678" not in body and "301" not in body and "下水道反复堵塞" in body
    assert notices.render("reminder_1h.0", s, [], community)[0] == "议事会提醒（1小时后）：现场勘察"


def test_recipient_keys_per_invitee_or_once_for_a_group():
    community = load_directory().community("xueyuan")
    s = MeetingSession(id="s", community="xueyuan", kind="emergency", starts_at=dt.datetime.now(dt.UTC), place="p")
    s.invitees = [{"party": "party_org", "name": "章文斌"}, {"party": "department", "name": "县住房保障中心"}]
    assert notices.recipient_keys(community, s, LogNotifier()) == ["party_org:章文斌", "department:县住房保障中心"]
    assert notices.recipient_keys(community, s, WeComNotifier("http://127.0.0.1:9/")) == ["group"]
    r = notices.recipient(community, "party_org:章文斌")
    assert r.wecom_id == "zhangwenbin" and r.phone == "13800002001"


async def test_log_notifier_writes_one_masked_line(caplog):
    with caplog.at_level(logging.INFO, logger="services.runtime.notify"):
        await LogNotifier().send(
            Recipient(name="章文斌"), "议事会邀请", "时间：明天\n地点：议事厅", community="xueyuan"
        )
    (record,) = [r for r in caplog.records if r.name == "services.runtime.notify"]
    line = record.getMessage()
    assert (
        "章**" in line and "章文斌" not in line and "community=xueyuan" in line and "时间：明天 / 地点：议事厅" in line
    )
