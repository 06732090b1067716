"""Open311 GeoReport v2 on intake, driven with raw form bodies and read as the spec's arrays."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest

from services.contracts import Envelope, events
from services.contracts.refs import ledger_ref
from services.intake import handlers
from services.intake.models import Report
from services.ledger.service import entry_id_for
from tests.integration.test_intake_api import auth, client, db_url  # noqa: F401 - fixtures
from tests.support import readable, wait_for

pytestmark = pytest.mark.integration

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def open311_key(c, channels=("open311",), communities=("xueyuan",)) -> str:
    spec = {"name": "县政务 Open311 网关", "channels": list(channels), "communities": list(communities)}
    r = c.post("/v1/apikeys", json=spec, headers=auth())
    assert r.status_code == 201, r.text
    return r.json()["key"]


def form(**fields: str) -> str:
    """A form body as the spec's examples write it."""
    return "&".join(f"{quote(k, safe='[]')}={quote(v)}" for k, v in fields.items())


def spec_error(r, status: int) -> str:
    assert r.status_code == status, r.text
    doc = r.json()
    assert isinstance(doc, list) and len(doc) == 1 and set(doc[0]) == {"code", "description"}, doc
    assert doc[0]["code"] == status
    return doc[0]["description"]


def test_services_list_and_definition(client):
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert isinstance(services, list) and len(services) == 20
    parking = next(s for s in services if s["service_code"] == "parking")
    assert parking == {
        "service_code": "parking",
        "service_name": "停车",
        "description": parking["description"],
        "metadata": False,
        "type": "realtime",
        "keywords": parking["keywords"],
        "group": "交通出行",
    }
    assert client.get("/open311/v2/services/parking.json").json() == {"service_code": "parking", "attributes": []}
    spec_error(client.get("/open311/v2/services/fax.json"), 404)

    x = client.get("/open311/v2/services.xml")
    assert x.status_code == 200 and x.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(x.content)
    assert root.tag == "services" and len(root.findall("service")) == 20
    assert root.find("service/metadata").text == "false"


def test_post_then_read_requests_masked(client):
    key = open311_key(client)
    body = form(
        api_key=key,
        jurisdiction_id="xueyuan",
        service_code="drainage",
        address_string="金泰和庄12栋2单元301室",
        description="12栋2单元下水道又堵了，污水漫到一楼门市。我是刘秀英，电话13800002031",
        first_name="秀英",
        last_name="刘",
        phone="13800002031",
        email="liuxiuying@example.com",
        **{"attribute[floor]": "1"},
    )
    r = client.post("/open311/v2/requests.json", content=body, headers=FORM)
    assert r.status_code == 200, r.text
    [created] = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    rid = created["service_request_id"]

    [one] = client.get(f"/open311/v2/requests/{rid}.json").json()
    assert one["service_request_id"] == rid and one["status"] == "open" and one["service_code"] == "drainage"
    assert one["service_name"] == "排水" and one["address"] == "金泰和庄12号楼"
    assert one["requested_datetime"] and one["updated_datetime"] and one["expected_datetime"] is None
    for key_name in ("status_notes", "agency_responsible", "lat", "long", "address_id", "zipcode", "media_url"):
        assert key_name in one
    text = readable(client.get(f"/open311/v2/requests/{rid}.json").text)
    for secret in ("刘秀英", "秀英", "13800002031", "301", "liuxiuying"):
        assert secret not in text, secret

    listed = client.get("/open311/v2/requests.json", params={"jurisdiction_id": "xueyuan", "status": "open"}).json()
    assert [x["service_request_id"] for x in listed] == [rid]
    assert client.get("/open311/v2/requests.json", params={"status": "closed"}).json() == []
    assert client.get("/open311/v2/requests.json", params={"service_code": "parking"}).json() == []
    assert client.get("/open311/v2/requests.json", params={"start_date": "2099-01-01T00:00:00Z"}).json() == []
    by_id = client.get("/open311/v2/requests.json", params={"service_request_id": f"{rid},rpt_none"}).json()
    assert [x["service_request_id"] for x in by_id] == [rid]
    spec_error(client.get("/open311/v2/requests.json", params={"status": "pending"}), 400)
    spec_error(client.get("/open311/v2/requests.json", params={"start_date": "yesterday"}), 400)
    spec_error(client.get("/open311/v2/requests/rpt_none.json"), 404)

    code = created["service_notice"].split("查询码 ")[1].split(" ")[0]
    assert client.get(f"/open311/v2/tokens/{code}.json").json() == [{"service_request_id": rid, "token": code}]
    spec_error(client.get("/open311/v2/tokens/ZZZZZZZZ.json"), 404)

    x = client.get(f"/open311/v2/requests/{rid}.xml")
    root = ET.fromstring(x.content)
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == rid


def test_status_from_the_ledger_read_model(client):
    key = open311_key(client)
    body = form(api_key=key, jurisdiction_id="xueyuan", service_code="lighting", lat="27.907", long="116.755",
                description="金泰和庄3号楼路灯不亮")  # fmt: skip
    rid = client.post("/open311/v2/requests.json", content=body, headers=FORM).json()[0]["service_request_id"]

    async def progress() -> None:
        ctx = client.app.state.ctx
        async with ctx.bus.uow() as uow:
            triaged = events.MatterTriaged.model_validate(
                {
                    "matter_id": "m_1",
                    "report_ids": [rid],
                    "title": "路灯不亮",
                    "place": {},
                    "kind": "problem",
                    "category": "lighting",
                    "level": "yellow",
                    "route": "direct",
                    "confidence": 0.9,
                    "triaged_at": "2024-03-10T09:00:00+08:00",
                }
            )
            env = Envelope.new(type="matter.triaged.v1", source="/services/triage", community="xueyuan", data=triaged)
            await handlers.on_matter_triaged(uow, env, triaged)
            task = events.EntryEvent.model_validate(
                {
                    "entry_id": "e_1",
                    "matter_id": "m_1",
                    "state": "assigned",
                    "level": "yellow",
                    "category": "lighting",
                    "measures": "更换路灯灯头",
                    "lead_party": "property_company",
                    "lead_unit": "江西锦程物业服务有限公司",
                    "deadline": "2024-03-20T18:00:00+08:00",
                    "actor": "u-party",
                    "at": "2024-03-10T10:00:00+08:00",
                }
            )
            env = Envelope.new(
                type="entry.assigned.v1", source="/services/ledger", community="xueyuan", data=task, sequence=1
            )
            await handlers.on_entry(uow, env, task)
            await uow.commit()

    client.portal.call(progress)
    [one] = client.get(f"/open311/v2/requests/{rid}.json").json()
    assert one["status"] == "open" and one["status_notes"] == "更换路灯灯头"
    assert one["agency_responsible"] == "江西锦程物业服务有限公司"
    assert one["expected_datetime"].startswith("2024-03-20T10:00:00")
    assert one["lat"] is None and one["address"] == "金泰和庄3号楼"  # coordinates are not published


def test_post_errors_use_the_spec_format(client):
    key = open311_key(client)
    wrong_channel = open311_key(client, channels=("miniprogram",))
    ok = {"api_key": key, "jurisdiction_id": "xueyuan", "service_code": "road",
          "address_string": "金泰和庄5号楼", "description": "路面塌陷"}  # fmt: skip
    post = lambda **f: client.post("/open311/v2/requests.json", content=form(**f), headers=FORM)  # noqa: E731
    spec_error(post(**(ok | {"api_key": "hk_nope"})), 403)
    spec_error(post(**{k: v for k, v in ok.items() if k != "api_key"}), 403)
    spec_error(post(**(ok | {"api_key": wrong_channel})), 403)
    spec_error(post(**(ok | {"jurisdiction_id": "jinshan"})), 403)
    spec_error(post(**(ok | {"jurisdiction_id": "nowhere"})), 404)
    spec_error(post(**(ok | {"service_code": "fax"})), 404)
    spec_error(post(**{k: v for k, v in ok.items() if k != "service_code"}), 400)
    spec_error(post(**{k: v for k, v in ok.items() if k != "address_string"}), 400)
    spec_error(post(**(ok | {"description": " "})), 400)
    spec_error(post(**(ok | {"phone": "0794-123"})), 400)
    spec_error(post(**(ok | {"lat": "north", "long": "1"})), 400)
    assert client.get("/open311/v2/requests.json").json() == []
    assert post(**ok).status_code == 200


def test_open311_callback_consent_attribute(client):
    key = open311_key(client)
    base = {
        "api_key": key,
        "jurisdiction_id": "xueyuan",
        "service_code": "lighting",
        "address_string": "金泰和庄12栋",
        "description": "12栋楼道灯不亮",
        "phone": "13800002031",
    }
    ids = []
    for value in (None, "true", "是"):
        fields = base | ({"attribute[callback_consent]": value} if value else {})
        r = client.post("/open311/v2/requests.json", content=form(**fields), headers=FORM)
        assert r.status_code == 200, r.text
        ids.append(r.json()[0]["service_request_id"])
    consent = [client.get(f"/v1/reports/{i}", headers=auth()).json()["callback_consent"] for i in ids]
    assert consent == [False, True, True]
    bad = base | {"attribute[callback_consent]": "也许"}
    assert "callback_consent" in spec_error(
        client.post("/open311/v2/requests.json", content=form(**bad), headers=FORM), 400
    )


MASKED = re.compile(r"\d{3}\*{4}\d{4}|[\u4e00-\u9fff]\*{1,3}|hh_[0-9a-f]{6}")
STAFF_NOTE = "已为王小明（电话13812345678，身份证110105198001011234）疏通下水道"
LEAKS = ("王小明", "刘秀英", "13812345678", "110105198001011234", "5714", "hh_", "502")


def _public_reads(client, rid: str, code: str) -> dict[str, str]:
    return {
        "track": readable(client.get(f"/v1/track/{code}").text),
        "open311 one": readable(client.get(f"/open311/v2/requests/{rid}.json").text),
        "open311 list": readable(client.get("/open311/v2/requests.json", params={"jurisdiction_id": "xueyuan"}).text),
        "open311 xml": client.get(f"/open311/v2/requests/{rid}.xml").text,
    }


def test_public_reads_show_no_personal_data_masked_or_not(client):
    key = open311_key(client)
    said = "我是刘秀英，5号楼3单元502下水道堵了，电话+86 138 1234 5678"
    body = form(api_key=key, jurisdiction_id="xueyuan", service_code="drainage", address_string="金泰和庄5号楼",
                description=said, first_name="秀英", last_name="刘")  # fmt: skip
    created = client.post("/open311/v2/requests.json", content=body, headers=FORM).json()[0]
    rid, code = created["service_request_id"], created["service_notice"].split("查询码 ")[1].split(" ")[0]
    ctx = client.app.state.ctx

    async def staff_note_arrives() -> None:
        # A task event straight from the wire, as an older ledger (or a forged one) would send it: raw.
        triaged = events.MatterTriaged(matter_id="m_pii", report_ids=[rid], title="下水道堵塞", place=events.Place(),
                                       kind="problem", category="drainage", level="yellow", route="direct",
                                       confidence=0.9, triaged_at="2024-03-10T09:00:00+08:00")  # fmt: skip
        task = events.EntryEvent(entry_id="e_pii", matter_id="m_pii", state="completed", level="yellow",
                                category="drainage", note=STAFF_NOTE, lead_unit="江西锦程物业服务有限公司",
                                actor="u", at="2024-03-11T10:00:00+08:00")  # fmt: skip
        async with ctx.bus.uow() as uow:
            env = Envelope.new(type="matter.triaged.v1", source="/services/triage", community="xueyuan", data=triaged)
            await handlers.on_matter_triaged(uow, env, triaged)
            env = Envelope.new(type="entry.completed.v1", source="/services/ledger", community="xueyuan", data=task)
            await handlers.on_entry(uow, env, task)
            await uow.commit()

    client.portal.call(staff_note_arrives)
    reads = _public_reads(client, rid, code)
    assert client.get(f"/v1/track/{code}").json()["status_note"] == "已为居民（电话[电话]，身份证[证件号]）疏通下水道"

    async def rows_written_before_the_fix() -> None:
        # What the columns held before: masked contact data and a reopen's reasons with a household reference.
        async with ctx.db.session() as s:
            r = await s.get(Report, rid)
            r.text = "住户刘**（电话139****5714）反映5号楼3单元502下水道堵了"
            r.status_note = "原报事人（hh_3fa9c2d1e0b7a6c5d4e3）反映问题未解决；" + STAFF_NOTE
            r.responsible = "王小明 13812345678"
            s.add(r)
            await s.commit()

    client.portal.call(rows_written_before_the_fix)
    for where, text in {**reads, **_public_reads(client, rid, code)}.items():
        assert not MASKED.search(text), f"{where}: {MASKED.search(text).group()!r}"
        for secret in LEAKS:
            assert secret not in text, f"{where} shows {secret!r}"

    async def reopened() -> None:
        reasons = ["原报事人反映问题未解决：「还是堵」", "满意率 0% 低于要求的 80%（共 1 户评价）"]
        data = events.MatterReopened(matter_id="m_pii", round=2, reopened_at="2024-03-12T10:00:00+08:00",
                                     reasons=reasons)  # fmt: skip
        async with ctx.bus.uow() as uow:
            env = Envelope.new(type="matter.reopened.v1", source="/services/feedback", community="xueyuan", data=data)
            await handlers.on_matter_reopened(uow, env, data)
            await uow.commit()

    client.portal.call(reopened)
    shown = client.get(f"/v1/track/{code}").json()
    assert shown["status"] == "reopened" and shown["status_note"] == "居民评价不满意，已督促责任单位重新整改"


def _publish_domain_event(c, env: Envelope) -> None:
    """Publish a signed domain event on hall.events, as triage does."""
    import aio_pika

    from services.contracts import EVENTS_EXCHANGE
    from services.runtime.settings import get_settings
    from tests.support import signed

    async def go() -> None:
        await c.app.state.ctx.bus.wait_ready()
        conn = await aio_pika.connect_robust(get_settings().amqp_url)
        async with conn:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange(EVENTS_EXCHANGE)
            msg = aio_pika.Message(env.to_bytes(), message_id=env.id, type=env.type, headers=signed(env))
            await ex.publish(msg, routing_key=env.type)

    c.portal.call(go)


def test_every_channels_request_carries_the_graded_service(client):
    # Issue 22: a report from another channel (here staff at the counter, no service chosen) showed
    # service_code/service_name null although open311.md lists every channel's reports with their category.

    sent = client.post(
        "/v1/reports", json={"community": "xueyuan", "text": "金泰和庄3号楼下水道堵了，污水冒到路面"}, headers=auth()
    )
    assert sent.status_code == 201, sent.text
    rid = sent.json()["report_id"]
    [before] = client.get(f"/open311/v2/requests/{rid}.json").json()
    assert before["service_code"] is None  # not graded yet: nothing to claim

    def graded(code: str) -> dict:
        def one() -> dict:
            [request] = client.get(f"/open311/v2/requests/{rid}.json").json()
            return request

        return wait_for(lambda: (r := one())["service_code"] == code and r, what=f"service_code {code}")

    data = events.MatterTriaged(
        matter_id="mat_o311", report_ids=[rid], title="下水道堵塞", place=events.Place(compound="jintaihezhuang"),
        kind="problem", category="drainage", level="yellow", route="deliberate", confidence=0.8,
        triaged_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    triaged = Envelope.new(
        type="matter.triaged.v1", source="/services/triage", community="xueyuan", subject="mat_o311", data=data
    )
    _publish_domain_event(client, triaged)
    one = graded("drainage")
    assert one["service_name"] == "排水"
    # The disclosure lists the matter under the same public reference (docs/ledger.md, 一月一公示).
    assert one["ledger_ref"] == ledger_ref("mat_o311") == entry_id_for("mat_o311")[-8:]
    code = sent.json()["tracking_code"]
    assert client.get(f"/v1/track/{code}").json()["ledger_ref"] == one["ledger_ref"]
    listed = {r["service_request_id"]: r for r in client.get("/open311/v2/requests.json").json()}
    assert (listed[rid]["service_code"], listed[rid]["service_name"]) == ("drainage", "排水")
    drains = client.get("/open311/v2/requests.json", params={"service_code": "drainage"}).json()
    assert rid in [r["service_request_id"] for r in drains]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{rid}.xml").content)
    assert xml.find("request/service_name").text == "排水"

    regrade = events.MatterRegraded(
        matter_id="mat_o311", level="red", route="deliberate", category="safety_fire",
        previous=events.GradeSnapshot(level="yellow", route="deliberate", category="drainage"),
        by="party_org_1", reason="污水漫入配电间", regraded_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    env = Envelope.new(
        type="matter.regraded.v1", source="/services/triage", community="xueyuan", subject="mat_o311", data=regrade
    )
    _publish_domain_event(client, env)
    assert graded("safety_fire")["service_name"] == "消防与安全"
