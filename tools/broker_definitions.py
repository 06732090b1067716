"""Generate deploy/rabbitmq/definitions.json: one broker user per service, the console and channel adapters.

python -m tools.broker_definitions            # write the file (placeholder passwords, see below)
python -m tools.broker_definitions --check    # exit 1 if the committed file is stale
python -m tools.broker_definitions --passwords-from-env --out /secure/definitions.json
    # a deployable copy: each user's password from <USER>_AMQP_PASSWORD (e.g. INTAKE_AMQP_PASSWORD, ADAPTER_…)

Each service may configure, write and read only its own queues (`<service>.*`), declare the hall's exchanges,
publish on hall.events only the event types it produces (topic permissions, from the catalog), and bind only
the event types it consumes. Adapters may only publish `channel.message.v1` to hall.channels: no queue, no
declaration, nothing to read. The committed file's passwords are placeholders, `change-me-<user>`, hashed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import json
import os
import re
import secrets
import sys
from pathlib import Path

from services.contracts import CHANNELS_EXCHANGE, DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, RETRY_EXCHANGE
from services.contracts.catalog import CATALOG
from services.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "rabbitmq" / "definitions.json"
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")
USERS = (*SERVICES, "console", "adapter")
EXCHANGES = (EVENTS_EXCHANGE, CHANNELS_EXCHANGE, DEAD_LETTER_EXCHANGE, RETRY_EXCHANGE)
TOPIC = {EVENTS_EXCHANGE: "topic", CHANNELS_EXCHANGE: "topic", DEAD_LETTER_EXCHANGE: "direct", RETRY_EXCHANGE: "direct"}
# The console's exclusive live-updates queues (services/console/live.py).
LIVE_QUEUES = r"console\.live\..+"


def placeholder(user: str) -> str:
    """The documented placeholder password of a user in the committed file (never use it in production)."""
    return f"change-me-{user}"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _any_of(names) -> str:
    return "^(" + "|".join(sorted(re.escape(n) for n in names)) + ")$" if names else "^$"


def _bound_keys(service: str) -> dict[str, set[str]]:
    """Exchange -> routing keys the service's queues bind (taken from its code)."""
    app = importlib.import_module(f"services.{service}.app")
    keys: dict[str, set[str]] = {}
    for sub in app.spec().subscriptions(Settings()):
        for exchange, key in sub.spec.bindings:
            keys.setdefault(exchange, set()).add(key)
    return keys


def _service_rules(service: str) -> tuple[dict, list[dict]]:
    own = rf"{re.escape(service)}\..+"
    bound = _bound_keys(service)
    exchanges = "|".join(re.escape(e) for e in EXCHANGES)
    read_ex = sorted({EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE, RETRY_EXCHANGE} | set(bound))
    perms = {
        # Declaring the hall's exchanges is idempotent; its own queues (and their retry/dead-letter queues) only.
        "configure": rf"^({own}|{exchanges})$",
        # Bind its own queues; publish events, retries and dead letters (amq.default: retry queues dead-letter
        # back through the default exchange, and `dlq replay` publishes there).
        "write": rf"^({own}|{'|'.join(re.escape(e) for e in (EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE, RETRY_EXCHANGE))}"
        r"|amq\.default)$",
        # Consume its own queues; bind them to the exchanges it takes events from.
        "read": rf"^({own}|{'|'.join(re.escape(e) for e in read_ex)})$",
    }
    produced = [t for t, e in CATALOG.items() if e.producer == service and e.exchange == EVENTS_EXCHANGE]
    topics = [
        {
            "exchange": EVENTS_EXCHANGE,
            "write": _any_of(produced),
            "read": _any_of(bound.get(EVENTS_EXCHANGE, set())),
        }
    ]
    if CHANNELS_EXCHANGE in bound:
        topics.append({"exchange": CHANNELS_EXCHANGE, "write": "^$", "read": _any_of(bound[CHANNELS_EXCHANGE])})
    return perms, topics


def rules() -> dict[str, tuple[dict, list[dict]]]:
    """User -> (permissions, topic permissions) in the hall's vhost."""
    out = {s: _service_rules(s) for s in SERVICES}
    exchanges = "|".join(re.escape(e) for e in EXCHANGES)
    # The console reads every event on its own live-updates queue; it publishes nothing.
    out["console"] = (
        {
            "configure": rf"^({LIVE_QUEUES}|{exchanges})$",
            "write": rf"^{LIVE_QUEUES}$",
            "read": rf"^({LIVE_QUEUES}|{re.escape(EVENTS_EXCHANGE)})$",
        },
        [{"exchange": EVENTS_EXCHANGE, "write": "^$", "read": ".*"}],
    )
    adapter_types = [t for t, e in CATALOG.items() if e.exchange == CHANNELS_EXCHANGE]
    out["adapter"] = (
        {"configure": "^$", "write": rf"^{re.escape(CHANNELS_EXCHANGE)}$", "read": "^$"},
        [{"exchange": CHANNELS_EXCHANGE, "write": _any_of(adapter_types), "read": "^$"}],
    )
    return out


def definitions(vhost: str = "/", passwords: dict[str, str] | None = None) -> dict:
    """The definitions document; passwords default to the placeholders (with a fixed salt, so the file is stable)."""
    users, permissions, topic_permissions = [], [], []
    for user, (perms, topics) in rules().items():
        if passwords is None:
            digest = password_hash(placeholder(user), hashlib.sha256(user.encode()).digest()[:4])
        else:
            digest = password_hash(passwords[user])
        users.append(
            {"name": user, "password_hash": digest, "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""}
        )
        permissions.append({"user": user, "vhost": vhost, **perms})
        topic_permissions.extend({"user": user, "vhost": vhost, **t} for t in topics)
    exchanges = [
        {
            "name": name,
            "vhost": vhost,
            "type": TOPIC[name],
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for name in EXCHANGES
    ]
    return {
        "rabbit_version": "3.10.0",
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "exchanges": exchanges,
        "queues": [],
        "bindings": [],
        "policies": [],
        "parameters": [],
        "global_parameters": [],
    }


def render(doc: dict) -> str:
    """The file's text."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.broker_definitions")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    parser.add_argument("--passwords-from-env", action="store_true", help="read <USER>_AMQP_PASSWORD for every user")
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    passwords = None
    if args.passwords_from_env:
        missing = [f"{u.upper()}_AMQP_PASSWORD" for u in USERS if not os.environ.get(f"{u.upper()}_AMQP_PASSWORD")]
        if missing:
            print(f"set {', '.join(missing)}", file=sys.stderr)
            return 2
        passwords = {u: os.environ[f"{u.upper()}_AMQP_PASSWORD"] for u in USERS}
    text = render(definitions(args.vhost, passwords))
    if args.check:
        if not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
            print(f"{args.out} is stale: run python -m tools.broker_definitions", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    if passwords is not None:
        args.out.chmod(0o600)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
