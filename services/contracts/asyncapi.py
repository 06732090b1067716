"""Generate the wire documents from the contracts: JSON Schema per event type and AsyncAPI 3.0.0.

Both are derived from the pydantic models and the catalog, never edited by hand. Output is
deterministic (same code -> same bytes) so the checked-in copies can be compared in CI.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from services.contracts.catalog import CATALOG, CHANNELS_EXCHANGE, EVENTS_EXCHANGE, EventType
from services.contracts.envelope import CONTENT_TYPE, Envelope
from services.contracts.vocabulary import CHANNEL_USERS

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
DOCS_DIR = Path("docs/contracts")
ENVELOPE_SCHEMA_NAME = "envelope"

_EXCHANGE_DESCRIPTIONS = {
    EVENTS_EXCHANGE: "Every domain event of the five services. Routing key = event type.",
    CHANNELS_EXCHANGE: (
        "Raw messages from channel adapters (WeChat groups, mini-program, hotline...). Routing key = "
        "event type. The only exchange that may carry personal data; intake consumes it, encrypts "
        "personal data at rest and never republishes it."
    ),
}


def package_version() -> str:
    """The installed distribution's version (the AsyncAPI info.version)."""
    try:
        return metadata.version("deliberation-hall")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


# --------------------------------------------------------------------------- JSON Schema


def _model_schema(model: type[BaseModel], ref_template: str) -> dict[str, Any]:
    return model.model_json_schema(mode="validation", ref_template=ref_template)


def _cloudevent_schema(entry: EventType, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The envelope schema with `type` fixed and `data` = the payload; returns (schema, payload defs)."""
    envelope = _model_schema(Envelope, ref_template)
    payload = _model_schema(entry.model, ref_template)
    defs = payload.pop("$defs", {})
    props = envelope["properties"]
    props["type"] = {
        "const": entry.type,
        "description": envelope["properties"]["type"].get("description", "Event type"),
        "title": "Type",
        "type": "string",
    }
    props["data"] = payload
    envelope["title"] = f"CloudEvent {entry.type}"
    envelope["description"] = _event_description(entry)
    return envelope, defs


def _event_description(entry: EventType) -> str:
    return (
        f"{entry.summary} Producer: {entry.producer}. Consumers: {', '.join(entry.consumers)}. "
        f"Published to exchange {entry.exchange} with routing key {entry.type}."
    )


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema 2020-12 of the complete CloudEvent, per event type, plus the generic envelope.

    Keys are event types, and `envelope` for the type-agnostic envelope (`data` any object).
    """
    out: dict[str, dict[str, Any]] = {}
    envelope = _model_schema(Envelope, "#/$defs/{model}")
    envelope["title"] = "CloudEvent envelope"
    out[ENVELOPE_SCHEMA_NAME] = {"$schema": JSON_SCHEMA_DIALECT, **envelope}
    for type_ in sorted(CATALOG):
        schema, defs = _cloudevent_schema(CATALOG[type_], "#/$defs/{model}")
        doc: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, **schema}
        if defs:
            doc["$defs"] = dict(sorted(defs.items()))
        out[type_] = doc
    return out


# --------------------------------------------------------------------------- AsyncAPI


def _camel(type_: str) -> str:
    """`channel.message.v1` -> `ChannelMessage`; versions above 1 keep a suffix (`...V2`)."""
    *words, version = type_.split(".")
    name = "".join(part.capitalize() for w in words for part in w.split("_"))
    return name if version == "v1" else f"{name}{version.upper()}"


def _service_camel(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return parts[0].lower() + "".join(p.capitalize() for p in parts[1:])


def _channel_binding(exchange: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {
                "name": exchange,
                "type": "topic",
                "durable": True,
                "autoDelete": False,
                "vhost": "/",
            },
            "bindingVersion": AMQP_BINDING_VERSION,
        }
    }


def build_asyncapi() -> dict[str, Any]:
    """A complete AsyncAPI 3.0.0 document of the event bus."""
    ref_template = "#/components/schemas/{model}"
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channel_messages: dict[str, dict[str, Any]] = {EVENTS_EXCHANGE: {}, CHANNELS_EXCHANGE: {}}
    operations: dict[str, Any] = {}

    for type_ in sorted(CATALOG):
        entry = CATALOG[type_]
        schema, defs = _cloudevent_schema(entry, ref_template)
        for name, sub in defs.items():
            if name in schemas and schemas[name] != sub:  # pragma: no cover - guards model renames
                raise ValueError(f"two different payload models are both called {name}")
            schemas[name] = sub
        schemas[type_] = schema
        messages[type_] = _message(type_, entry)
        channel_messages[entry.exchange][type_] = {"$ref": f"#/components/messages/{type_}"}
        operations.update(_operations(type_, entry))

    channels = {
        exchange: {
            "address": exchange,
            "title": exchange,
            "description": _EXCHANGE_DESCRIPTIONS[exchange],
            "servers": [{"$ref": "#/servers/local"}],
            "messages": dict(sorted(channel_messages[exchange].items())),
            "bindings": _channel_binding(exchange),
        }
        for exchange in (EVENTS_EXCHANGE, CHANNELS_EXCHANGE)
    }

    return {
        **_document_header(),
        "channels": channels,
        "operations": dict(sorted(operations.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": dict(sorted(messages.items())),
            "correlationIds": {
                "correlationid": {
                    "description": "The CloudEvents extension correlationid: one id across a whole flow.",
                    "location": "$message.payload#/correlationid",
                }
            },
        },
    }


def _message(type_: str, entry: EventType) -> dict[str, Any]:
    """The message of one event type (components/messages)."""
    return {
        "name": type_,
        "title": _camel(type_),
        "summary": entry.summary,
        "description": _event_description(entry),
        "contentType": CONTENT_TYPE,
        "payload": {"$ref": f"#/components/schemas/{type_}"},
        "correlationId": {"$ref": "#/components/correlationIds/correlationid"},
        "bindings": {"amqp": {"messageType": type_, "bindingVersion": AMQP_BINDING_VERSION}},
        "x-producer": entry.producer,
        "x-consumers": list(entry.consumers),
    }


def _operations(type_: str, entry: EventType) -> dict[str, Any]:
    """The producer's send and every consumer's receive of one event type, by operation id."""
    channel_ref = {"$ref": f"#/channels/{entry.exchange}"}
    message_ref = [{"$ref": f"#/channels/{entry.exchange}/messages/{type_}"}]
    out: dict[str, Any] = {
        f"publish{_camel(type_)}": {
            "action": "send",
            "title": f"{entry.producer} publishes {type_}",
            "summary": entry.summary,
            "channel": channel_ref,
            "messages": message_ref,
            "bindings": {
                "amqp": {
                    "deliveryMode": 2,
                    "mandatory": True,
                    "timestamp": True,
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "x-producer": entry.producer,
        }
    }
    for consumer in sorted(entry.consumers):
        out[f"{_service_camel(consumer)}Receive{_camel(type_)}"] = {
            "action": "receive",
            "title": f"{consumer} consumes {type_}",
            "summary": entry.summary,
            "channel": channel_ref,
            "messages": message_ref,
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
            "x-consumer": consumer,
        }
    return out


def _document_header() -> dict[str, Any]:
    """The document's version, info, default content type and servers."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "五方议事厅 event bus / Deliberation Hall event bus",
            "version": package_version(),
            "description": (
                "Events exchanged by the Five-Party Deliberation Hall services (intake, triage, meeting, "
                "ledger, feedback) and the channel adapters, over RabbitMQ. Every message is a "
                "CloudEvents 1.0 event in structured JSON mode (content type application/cloudevents+json) "
                "with the extensions community, correlationid, causationid, traceparent and sequence. "
                "The routing key is the event type; the AMQP message_id is the CloudEvent id and the "
                "dedup key. Contracts grow additively within a version; consumers ignore unknown fields; "
                "a breaking change is a new type (.v2). Generated by `python -m services.contracts export`; "
                "do not edit by hand."
            ),
            "license": {"name": "Proprietary"},
            "tags": [{"name": "cloudevents"}, {"name": "amqp"}],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ on a development machine (vhost /).",
            }
        },
    }


# --------------------------------------------------------------------------- files


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def render_yaml(doc: dict[str, Any]) -> str:
    # Deep copy so PyYAML emits no anchors/aliases for shared sub-objects.
    class _NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    header = "# Generated by `python -m services.contracts export` from services/contracts. Do not edit.\n"
    body = yaml.dump(
        copy.deepcopy(doc),
        Dumper=_NoAliases,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=110,
    )
    return header + body


def _channel_table() -> str:
    rows = [f"| `{code}` | {users} |" for code, users in CHANNEL_USERS.items()]
    return "\n".join(["| `channel` | who sends it |", "|---|---|", *rows])


def _event_table() -> str:
    rows = [
        f"| `{e.type}` | `{e.exchange}` | {e.producer} | {', '.join(e.consumers)} | {e.summary} |"
        for e in CATALOG.values()
    ]
    return "\n".join(["| type | exchange | producer | consumers | meaning |", "|---|---|---|---|---|", *rows])


# Blocks of docs/contracts/README.md written from code: <!-- generated:NAME --> … <!-- /generated:NAME -->.
README_BLOCKS = {"channels": _channel_table, "events": _event_table}


def _between(block: str) -> Callable[[re.Match[str]], str]:
    """A replacement that keeps a generated block's markers and puts `block` between them."""
    return lambda m: m.group(1) + block + "\n" + m.group(2)


def render_readme(text: str) -> str:
    """The README with every generated block rewritten from the vocabulary and the catalog."""
    for name, make in README_BLOCKS.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"docs/contracts/README.md lacks the generated block {name!r}")
        text = pattern.sub(_between(make()), text)
    return text


def generated_files(root: Path | None = None) -> dict[Path, str]:
    """Every generated document, path (under root) -> exact text."""
    base = (root or Path.cwd()) / DOCS_DIR
    files = {base / "asyncapi.yaml": render_yaml(build_asyncapi())}
    for name, schema in json_schemas().items():
        files[base / "schemas" / f"{name}.json"] = render_json(schema)
    readme = base / "README.md"
    if readme.is_file():
        files[readme] = render_readme(readme.read_text(encoding="utf-8"))
    return files


def stale_files(root: Path | None = None) -> list[Path]:
    """Generated files that are missing or differ, plus schema files nothing generates any more."""
    files = generated_files(root)
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    schema_dir = (root or Path.cwd()) / DOCS_DIR / "schemas"
    if schema_dir.is_dir():
        stale += [p for p in schema_dir.glob("*.json") if p not in files]
    return sorted(stale)


def export(root: Path | None = None) -> list[Path]:
    """Write every generated document and delete orphaned schema files; return what changed."""
    changed = stale_files(root)
    files = generated_files(root)
    for path in changed:
        if path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path], encoding="utf-8")
        else:
            path.unlink()
    return changed
