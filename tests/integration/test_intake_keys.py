"""Personal data stays encrypted at rest, and the documented key rotation really moves it to the new key."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import select

from services.contracts import Envelope, events
from services.intake import handlers
from services.intake import service as intake_service
from services.intake.app import spec
from services.intake.models import Report, Visit
from services.runtime.db import Database
from services.runtime.privacy import Vault
from tests.e2e.platform import ROOT
from tests.support import sqlite_store

pytestmark = pytest.mark.integration

PHONE, NAME = "13955556666", "欧阳娜娜"


def _msg(i: int) -> tuple[Envelope, events.ChannelMessage]:
    data = events.ChannelMessage(
        channel="wechat_group",
        channel_message_id=f"rot-{i}-{uuid.uuid4().hex[:6]}",
        text=f"我是{NAME}，景湖花园{i}栋502楼道灯坏了",
        received_at=dt.datetime.now(dt.UTC),
        sender=events.Sender(name=NAME, phone=PHONE, room="502"),
    )
    env = Envelope.new(type="channel.message.v1", source="/adapters/test", community="jinshan", data=data)
    return env, data


async def test_rotation_moves_every_secret_to_the_new_key(tmp_path, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HALL_PII_KEY", old)
    from services.runtime.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setattr(intake_service, "_vault", None)
    store = await sqlite_store(spec(), tmp_path)
    for i in range(1, 8):
        await store.handle(handlers.on_channel_message, *_msg(i))
    async with store.db.session() as s:  # a door-knocking visit: its door is a secret too
        s.add(
            Visit(
                id="vis_rot",
                campaign_id="vca_rot",
                community="jinshan",
                grid="js-g1",
                compound="jinghuhuayuan",
                building="5",
                door_enc=Vault([old.encode()]).encrypt("2单元502"),
                household_ref="hh_rot",
                visitor="徐志强",
                visitor_role="grid_worker",
                entered_by="t",
                visited_at=dt.datetime.now(dt.UTC),
            )
        )
        await s.commit()
    await store.db.dispose()
    raw = (tmp_path / next(p.name for p in tmp_path.glob("intake-*.db"))).read_bytes()
    assert PHONE.encode() not in raw and NAME.encode() not in raw, "personal data must be encrypted at rest"

    db_file = next(tmp_path.glob("intake-*.db"))
    env = {
        **os.environ,
        "HALL_VAR_DIR": str(tmp_path),
        "HALL_PII_KEY": f"{new},{old}",
        "INTAKE_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
    }
    out = subprocess.run(  # noqa: ASYNC221 (the CLI under test runs its own event loop)
        [sys.executable, "-m", "services.intake", "rotate-keys"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "re-encrypted 8 reports and visits" in out.stdout

    only_new = Vault([new.encode()])
    db = Database(f"sqlite+aiosqlite:///{db_file}")
    async with db.session() as s:
        rows = (await s.exec(select(Report))).all()
        visit = await s.get(Visit, "vis_rot")
    await db.dispose()
    assert only_new.decrypt(visit.door_enc) == "2单元502"
    with pytest.raises(InvalidToken):
        Vault([old.encode()]).decrypt(visit.door_enc)
    assert len(rows) == 7
    for r in rows:
        assert only_new.decrypt(r.reporter_phone_enc) == PHONE and only_new.decrypt(r.reporter_name_enc) == NAME
        with pytest.raises(InvalidToken):
            Vault([old.encode()]).decrypt(r.reporter_phone_enc)
