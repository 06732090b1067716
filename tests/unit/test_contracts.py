"""Unit tests for the wire contracts: envelope, parsing, JSON Schema and the generated AsyncAPI docs."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from services.contracts import CATALOG, CHANNELS_EXCHANGE, ContractError, Envelope, parse
from services.contracts.asyncapi import build_asyncapi, generated_files, json_schemas, stale_files
from services.contracts.events import ChannelMessage, Sender

try:
    import jsonschema
except ImportError:  # pragma: no cover - depends on the environment
    jsonschema = None

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
AT = dt.datetime(2024, 5, 6, 8, 30, tzinfo=dt.UTC)


def channel_message() -> ChannelMessage:
    return ChannelMessage(
        channel="wechat_group",
        channel_message_id="wxg-20240506-0001",
        text="@物业 12栋2单元楼道灯又不亮了[图片]",
        received_at=AT,
        sender=Sender(id="wm_abc123", name="王小明", phone="13812341234"),
        photos=["https://files.example/jinshan/2024/05/06/a.jpg"],
    )


def envelope(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "type": "channel.message.v1",
        "source": "/adapters/wecom-bot",
        "community": "jinshan",
        "data": channel_message(),
        "time": AT,
    }
    fields.update(overrides)
    return Envelope.new(**fields)


def raw(**overrides: Any) -> dict[str, Any]:
    body = json.loads(envelope().to_bytes())
    body.update(overrides)
    return body


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


# --------------------------------------------------------------------------- envelope and parse


def test_envelope_round_trip() -> None:
    env = envelope(subject="wxg-20240506-0001", sequence=3, causationid="cause-1")
    parsed, payload = parse(env.to_bytes())
    assert parsed == env
    assert parsed.correlationid == env.id  # a fresh flow correlates to its first event
    assert isinstance(payload, ChannelMessage)
    assert payload == channel_message()
    assert parsed.time == AT


def test_serialised_envelope_is_cloudevents_structured_json() -> None:
    body = json.loads(envelope().to_bytes())
    assert body["specversion"] == "1.0"
    assert body["datacontenttype"] == "application/json"
    assert body["data"]["text"] == "@物业 12栋2单元楼道灯又不亮了[图片]"
    assert "traceparent" not in body  # absent optional attributes are left out, not null


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"{"])
def test_parse_rejects_non_json(body: bytes) -> None:
    with pytest.raises(ContractError, match="not JSON"):
        parse(body)


@pytest.mark.parametrize("body", [[], "text", 42, None])
def test_parse_rejects_non_object(body: Any) -> None:
    with pytest.raises(ContractError, match="not a JSON object"):
        parse(dumps(body))


def test_parse_rejects_missing_community() -> None:
    body = raw()
    del body["community"]
    with pytest.raises(ContractError) as err:
        parse(dumps(body))
    assert err.value.field == "community"


@pytest.mark.parametrize("bad", ["ChannelMessage", "channel.message", "channel.message.v0", "a.b.V1"])
def test_parse_rejects_bad_type_pattern(bad: str) -> None:
    with pytest.raises(ContractError) as err:
        parse(dumps(raw(type=bad)))
    assert err.value.field == "type"


def test_parse_rejects_unknown_type() -> None:
    with pytest.raises(ContractError, match="unknown event type") as err:
        parse(dumps(raw(type="channel.message.v9")))
    assert err.value.field == "type"


def test_parse_names_the_missing_payload_field() -> None:
    body = raw()
    del body["data"]["channel_message_id"]
    with pytest.raises(ContractError) as err:
        parse(dumps(body))
    assert err.value.field == "data.channel_message_id"
    assert "data.channel_message_id" in err.value.reason


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    body = raw(newextension="x", dataschema="https://example/x")
    body["data"]["future_field"] = {"anything": [1, 2]}
    body["data"]["sender"]["wechat_avatar"] = "https://example/a.png"
    env, payload = parse(dumps(body))
    assert env.id == body["id"] and env.type == "channel.message.v1" and env.community == "jinshan"
    assert not hasattr(env, "newextension")
    assert payload == channel_message()  # the typed payload drops what it does not know


def _readme() -> str:
    return (REPO_ROOT / "docs/contracts/README.md").read_text(encoding="utf-8")


def test_readme_example_is_a_valid_channel_message() -> None:
    example = _readme().split("```json\n", 1)[1].split("```", 1)[0]
    env, payload = parse(example.encode())
    assert env.type == "channel.message.v1" and env.community == "jinshan"
    assert isinstance(payload, ChannelMessage) and payload.sender is not None and payload.sender.phone


def test_readme_lists_every_event_type_with_its_producer() -> None:
    readme = _readme()
    for type_, entry in CATALOG.items():
        row = f"| `{type_}` | `{entry.exchange}` | {entry.producer} | {', '.join(entry.consumers)} |"
        assert row in readme, f"docs/contracts/README.md table is out of date for {type_}"


# --------------------------------------------------------------------------- generated documents


def test_every_catalog_type_has_a_schema() -> None:
    schemas = json_schemas()
    assert set(schemas) == set(CATALOG) | {"envelope"}
    for type_, schema in schemas.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        if type_ != "envelope":
            assert schema["properties"]["type"]["const"] == type_
            assert schema["properties"]["data"]["type"] == "object"
            assert {"id", "source", "type", "time", "community", "data"} <= set(schema["required"])


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_document() -> None:
    doc = build_asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["servers"]["local"] == {
        "host": "127.0.0.1:5672",
        "protocol": "amqp",
        "protocolVersion": "0.9.1",
        "description": doc["servers"]["local"]["description"],
    }
    messages = doc["components"]["messages"]
    assert set(messages) == set(CATALOG)
    for type_, entry in CATALOG.items():
        message = messages[type_]
        assert message["name"] == type_
        assert message["contentType"] == "application/cloudevents+json"
        assert message["bindings"]["amqp"]["messageType"] == type_
        assert entry.producer in message["description"]
        assert type_ in doc["channels"][entry.exchange]["messages"]
    for channel in doc["channels"].values():
        binding = channel["bindings"]["amqp"]
        assert binding["is"] == "routingKey"
        assert binding["exchange"]["name"] == channel["address"]
        assert binding["exchange"]["type"] == "topic" and binding["exchange"]["durable"] is True
    send = doc["operations"]["publishChannelMessage"]
    assert send["action"] == "send"
    assert send["channel"] == {"$ref": f"#/channels/{CHANNELS_EXCHANGE}"}
    assert send["bindings"]["amqp"]["deliveryMode"] == 2
    assert doc["operations"]["intakeReceiveChannelMessage"]["action"] == "receive"
    receivers = {op["x-consumer"] for op in doc["operations"].values() if op["action"] == "receive"}
    assert receivers == {c for e in CATALOG.values() for c in e.consumers}
    for ref in _refs(doc):  # every reference resolves inside the document
        assert _resolve(doc, ref) is not None


def test_generation_is_deterministic() -> None:
    assert generated_files(REPO_ROOT) == generated_files(REPO_ROOT)


def test_committed_contract_docs_are_up_to_date() -> None:
    stale = stale_files(REPO_ROOT)
    assert not stale, (
        "docs/contracts differs from what services/contracts generates: "
        + ", ".join(str(p.relative_to(REPO_ROOT)) for p in stale)
        + ". Run `python -m services.contracts export` and commit the result."
    )


@pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed in this environment")
def test_example_event_validates_against_its_json_schema() -> None:
    schemas = json_schemas()
    body = json.loads(envelope(subject="wxg-20240506-0001", sequence=1).to_bytes())
    validator = jsonschema.Draft202012Validator(schemas["channel.message.v1"])
    validator.validate(body)
    jsonschema.Draft202012Validator(schemas["envelope"]).validate(body)
    del body["data"]["channel_message_id"]
    assert not validator.is_valid(body)
    assert not validator.is_valid(raw(type="report.received.v1"))


def test_readme_channel_table_is_the_vocabulary():
    # Issue 22: the hand-written channel table omitted open311. It is generated now; this reads the committed file.
    from typing import get_args

    from services.contracts.vocabulary import Channel

    text = (REPO_ROOT / "docs/contracts/README.md").read_text(encoding="utf-8")
    block = text.split("<!-- generated:channels -->")[1].split("<!-- /generated:channels -->")[0]
    listed = re.findall(r"^\| `(\w+)` \|", block, re.M)
    assert listed[1:] == list(get_args(Channel))  # after the header
    events_block = text.split("<!-- generated:events -->")[1].split("<!-- /generated:events -->")[0]
    assert re.findall(r"^\| `([\w.]+)` \|", events_block, re.M) == list(CATALOG)


def test_catalog_consumers_are_the_services_subscriptions() -> None:
    """The catalog's consumer lists (and the docs made from them) say exactly what each service's queues bind."""
    import importlib

    from services.runtime.settings import Settings

    bound: dict[str, set[str]] = {}
    for service in ("intake", "triage", "meeting", "ledger", "feedback"):
        for sub in importlib.import_module(f"services.{service}.app").spec().subscriptions(Settings()):
            for type_ in sub.handlers:
                bound.setdefault(type_, set()).add(service)
    assert {t: set(e.consumers) for t, e in CATALOG.items() if e.consumers} == bound


# --------------------------------------------------------------------------- renamed events (task.* -> entry.*)


def test_an_old_event_name_is_its_new_name_in_all_but_name() -> None:
    old = {t: e for t, e in CATALOG.items() if e.replaced_by}
    assert set(old) == {f"task.{v}.v1" for v in ("assigned", "progressed", "escalated", "completed")}
    for entry in old.values():
        new = CATALOG[entry.replaced_by]
        assert (entry.model, entry.exchange, entry.producer, entry.consumers) == (
            new.model,
            new.exchange,
            new.producer,
            new.consumers,
        )
        # One per-subject sequence for both names: a consumer keeping the last one seen drops neither as stale.
        assert entry.sequence_stream == new.sequence_stream == "task"


def test_every_queue_taking_a_new_name_also_takes_the_old_one() -> None:
    import importlib

    from services.runtime.settings import Settings

    for service in ("intake", "triage", "ledger", "meeting", "feedback"):
        app = importlib.import_module(f"services.{service}.app")
        for sub in app.subscriptions(Settings()):
            keys = {key for _, key in sub.spec.bindings}
            for type_, entry in CATALOG.items():
                if entry.replaced_by in keys:
                    assert type_ in keys, (service, type_)
                    assert sub.handlers[type_] is sub.handlers[entry.replaced_by]


def test_an_entry_event_state_is_one_of_the_ledger_states() -> None:
    from typing import get_args

    from services.contracts import events, labels
    from services.contracts.vocabulary import LedgerState
    from services.ledger.domain import STATES

    base = {"entry_id": "e_1", "matter_id": "m_1", "level": "red", "category": "road", "actor": "u", "at": AT}
    assert events.EntryEvent.model_validate(base | {"state": "in_progress"}).state == "in_progress"
    with pytest.raises(ValueError):
        events.EntryEvent.model_validate(base | {"state": "done"})
    assert set(STATES) == set(get_args(LedgerState)) == set(labels.LEDGER_STATE)
