"""The emergency path through the ledger's real lifespan: pages reach a real webhook, SMTP sink and SMS gateway.

The ledger runs with RabbitMQ, Redis and a SQLite file; the notice job is woken by the commit that opens the
alert, so the pages arrive without waiting for a poll. Acknowledgement by the page's link and from the console.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import time

import pytest
from fastapi.testclient import TestClient

from services.contracts import Envelope, events
from services.ledger import handlers
from services.ledger.app import spec
from services.runtime import auth, directory
from services.runtime.service import create_app
from services.runtime.settings import get_settings
from tests.integration.notify_servers import Hook, Smtp, write_county
from tests.support import wait_for

# One shift round the clock, so what is paged does not depend on when the test runs.
ALWAYS = {
    "xueyuan": {"shifts": [{"lead": "property_company", "people": ["罗小兵", "傅振宇"]}], "secretary": "章文斌"},
    "jinshan": {"shifts": [{"lead": "property_company", "people": ["周海涛"]}], "secretary": "吴建华"},
}


def use_directory(tmp_path, monkeypatch, notices: dict[str, dict]) -> None:
    """The demo county with round-the-clock shifts and each community's notices block from `notices`."""
    monkeypatch.setenv(directory.ENV_VAR, str(write_county(tmp_path, notices=notices, on_call=ALWAYS)))
    directory.clear_cache()


pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _own_vhost(vhost, monkeypatch):
    """The app's bus declares and publishes in a private vhost, never in the default one `make run` uses."""
    monkeypatch.setenv("HALL_AMQP_URL", vhost)


@pytest.fixture(autouse=True)
def _fresh_directory():
    directory.clear_cache()
    yield
    directory.clear_cache()


def app_client(tmp_path, monkeypatch) -> TestClient:
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("HALL_PUBLIC_URL", "https://hall.example.org")
    get_settings.cache_clear()
    return TestClient(create_app(spec()))


def token(role: str, community: str, sub: str) -> dict[str, str]:
    t = auth.mint(sub=sub, role=role, communities=[community], unit="江西锦程物业服务有限公司")
    return {"Authorization": f"Bearer {t}"}


def red(client: TestClient, community: str, compound: str, matter_id: str = "mat_red_1") -> str:
    """Feed a red matter.triaged.v1 through the app's own unit of work; return the entry id."""
    now = dt.datetime.now(dt.UTC)
    data = events.MatterTriaged(
        matter_id=matter_id,
        report_ids=["rpt_1"],
        title="3号楼地下室配电箱冒烟，电线裸露",
        place=events.Place(compound=compound, building="3"),
        kind="problem",
        category="safety_fire",
        level="red",
        route="deliberate",
        confidence=0.97,
        triaged_at=now,
    )
    env = Envelope.new(
        type="matter.triaged.v1", source="/services/test", community=community, subject=matter_id, data=data, time=now
    )

    async def go() -> None:
        ctx = client.app.state.ctx
        async with ctx.bus.uow(cause=env) as uow:
            await handlers.on_matter_triaged(uow, env, data)
            await uow.commit()

    client.portal.call(go)
    r = client.get("/v1/entries?level=red", headers=token("party_org", community, "staff"))
    return next(e["id"] for e in r.json()["items"] if e["matter_id"] == matter_id)


def test_pages_reach_the_webhook_at_once_and_the_link_acknowledges(tmp_path, monkeypatch):
    hook = Hook()
    try:
        use_directory(tmp_path, monkeypatch, {"xueyuan": {"channel": "wecom", "webhook_url": hook.url}})
        with app_client(tmp_path, monkeypatch) as client:
            started = time.monotonic()
            entry_id = red(client, "xueyuan", "jintaihezhuang")
            wait_for(lambda: len(hook.received) >= 2)
            elapsed = time.monotonic() - started
            assert elapsed < 5  # woken by the commit, not by the 5 s poll
            texts = [m["text"]["content"] for m in hook.received]
            assert all(t.startswith("【【红色警报】") for t in texts)
            assert all("金泰和庄" in t and "江西锦程物业服务有限公司" in t for t in texts)
            links = [re.search(r"https://hall\.example\.org/m/ack/(\S+)", t).group(1) for t in texts]
            staff = token("party_org", "xueyuan", "章文斌")
            detail = client.get(f"/v1/entries/{entry_id}", headers=staff).json()
            assert detail["alert"]["status"] == "open" and detail["alert"]["tier_label"] == "值班人员"
            assert detail["alert"]["tier_label_en"] == "the people on call"
            assert detail["alert"]["status_label_en"] == "Waiting for acknowledgement"
            paged = [t for t in detail["timeline"] if t["action"] == "page"]
            assert paged[0]["note_en"].startswith("Red alert: paged the people on call (2 people, page 1)")
            assert sorted(n["to"] for n in detail["notices"]) == ["傅振宇", "罗小兵"]
            assert detail["lead_unit"] == "江西锦程物业服务有限公司" and detail["state_label"] == "已交办"
            due = dt.datetime.fromisoformat(detail["first_action_due"]) - dt.datetime.fromisoformat(
                detail["created_at"]
            )
            assert dt.timedelta(hours=3, minutes=59) < due <= dt.timedelta(hours=4)

            # Opening the link shows the matter and does not acknowledge (link scanners open links).
            seen = client.get(f"/v1/acks/{links[0]}")
            assert seen.status_code == 200 and seen.json()["status"] == "open"
            assert "电线裸露" in seen.json()["title"]
            acked = client.post(f"/v1/acks/{links[0]}")
            assert acked.status_code == 200 and acked.json()["status_label"] == "已确认接警"
            again = client.post(f"/v1/acks/{links[1]}").json()  # idempotent: the first acknowledgement stands
            assert again["acked_at"] == acked.json()["acked_at"] and "acked_by" not in again
            assert client.get("/v1/acks/not-a-real-token-at-all").status_code == 404

            detail = client.get(f"/v1/entries/{entry_id}", headers=staff).json()
            assert detail["alert"]["status"] == "acknowledged"
            ack = [t for t in detail["timeline"] if t["action"] == "ack"]
            assert len(ack) == 1 and ack[0]["note"] == "已确认接警（通过通知链接）"
            assert ack[0]["note_en"] == "Red alert acknowledged by the link in the page"
            assert all(n["status"] == "sent" for n in detail["notices"])
    finally:
        hook.close()


def test_console_ack_and_the_first_action(tmp_path, monkeypatch):
    use_directory(tmp_path, monkeypatch, {})
    with app_client(tmp_path, monkeypatch) as client:
        entry_id = red(client, "xueyuan", "jintaihezhuang")
        staff = token("party_org", "xueyuan", "胡晓玲")
        other = token("party_org", "jinshan", "吴建华")
        assert client.post(f"/v1/entries/{entry_id}/ack", headers=other).status_code in (403, 404)
        r = client.post(f"/v1/entries/{entry_id}/actions/claim", headers=staff, json={})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["first_action_at"] is not None and body["alert"]["status"] == "acknowledged"
        assert [t["note"] for t in body["timeline"] if t["action"] == "ack"] == ["已确认接警（开始处置）"]
        again = client.post(f"/v1/entries/{entry_id}/ack", headers=staff)
        assert again.status_code == 200 and again.json()["alert"]["acked_by"] == "胡晓玲"


def test_smtp_and_sms_channels_deliver_pages_to_people_with_an_address(tmp_path, monkeypatch):
    smtp, gateway = Smtp(), Hook()
    try:
        smtp_block = {"channel": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_sender": "hall@x.org"}
        sms_block = {"channel": "sms", "sms_gateway_url": gateway.url}
        use_directory(tmp_path, monkeypatch, {"jinshan": smtp_block, "xueyuan": sms_block})
        with app_client(tmp_path, monkeypatch) as client:
            red(client, "jinshan", "jinghuhuayuan", matter_id="mat_red_js")
            red(client, "xueyuan", "jintaihezhuang", matter_id="mat_red_xy")
            wait_for(lambda: smtp.messages and len(gateway.received) >= 2)
        (raw,) = smtp.messages
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert "红色警报" in msg["Subject"] and "/m/ack/" in msg.get_content()
        assert msg["To"] == "zhouhaitao@hengtai-wy.example"
        assert sorted(m["phone"] for m in gateway.received) == ["13800002021", "13800002022"]
        assert all("红色警报" in m["text"] for m in gateway.received)
    finally:
        smtp.close()
        gateway.close()
