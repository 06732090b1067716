"""One-time signed links: HMAC-SHA256 tokens binding a purpose, subject, audience, expiry and a nonce.

A token is `<payload>.<mac>`, both base64url without padding; the payload is compact JSON
{"p": purpose, "s": subject, "a": audience, "e": expiry (unix seconds), "n": nonce}. Verification is
constant-time and says only "forged" or "expired"; single use is the consuming service's job: it stores
the nonce under a unique key in the same transaction as the action the link allows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from services.runtime.settings import Settings, create_once, get_settings, require_for_production

MAX_TOKEN_CHARS = 1024
MAX_FIELD_CHARS = 128


class LinkError(Exception):
    """A link that cannot be used."""


class Forged(LinkError):
    """Bad format, bad signature, or a token minted for another purpose or subject."""


class Expired(LinkError):
    """A genuine token past its expiry."""


@dataclass(frozen=True)
class Link:
    """What a verified token grants: `purpose` on `subject` for `audience` until `expires_at`, once (`nonce`)."""

    purpose: str
    subject: str
    audience: str
    expires_at: dt.datetime
    nonce: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Issues and verifies tokens; the first key signs, every key verifies (rotation)."""

    def __init__(self, keys: list[bytes]):
        if not keys or any(len(k) < 16 for k in keys):
            raise ValueError("at least one key of 16 bytes or more")
        # Derive a key per use so the same secret is never used raw for anything else.
        self._keys = [hashlib.sha256(b"hall-link:" + k).digest() for k in keys]

    def _mac(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, payload, hashlib.sha256).digest()

    def issue(
        self,
        *,
        purpose: str,
        subject: str,
        audience: str,
        ttl: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> tuple[str, Link]:
        """A new token and what it grants."""
        for name, value in (("purpose", purpose), ("subject", subject), ("audience", audience)):
            if not value or len(value) > MAX_FIELD_CHARS:
                raise ValueError(f"{name} must be 1..{MAX_FIELD_CHARS} characters")
        if ttl <= dt.timedelta(0):
            raise ValueError("ttl must be positive")
        now = now or dt.datetime.now(dt.UTC)
        expires = int((now + ttl).timestamp())
        nonce = secrets.token_urlsafe(16)
        body = {"p": purpose, "s": subject, "a": audience, "e": expires, "n": nonce}
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        token = f"{_b64(payload)}.{_b64(self._mac(self._keys[0], payload))}"
        link = Link(purpose, subject, audience, dt.datetime.fromtimestamp(expires, dt.UTC), nonce)
        return token, link

    def verify(
        self,
        token: str,
        *,
        purposes: tuple[str, ...],
        subject: str | None = None,
        now: dt.datetime | None = None,
    ) -> Link:
        """The link a genuine, unexpired token grants for one of `purposes` (and `subject` if given)."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise Forged("malformed")
        head, mac = token.split(".")
        try:
            payload, given = _unb64(head), _unb64(mac)
        except (binascii.Error, ValueError) as exc:
            raise Forged("malformed") from exc
        # Compare against every key without stopping early, so timing tells nothing about which matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(self._mac(key, payload), given)
        if not matched:
            raise Forged("bad signature")
        try:
            body = json.loads(payload)
            link = Link(
                purpose=str(body["p"]),
                subject=str(body["s"]),
                audience=str(body["a"]),
                expires_at=dt.datetime.fromtimestamp(int(body["e"]), dt.UTC),
                nonce=str(body["n"]),
            )
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise Forged("bad payload") from exc
        if link.purpose not in purposes or (subject is not None and link.subject != subject):
            raise Forged("not for this use")
        if (now or dt.datetime.now(dt.UTC)) >= link.expires_at:
            raise Expired("expired")
        return link


def _key_file(settings: Settings) -> Path:
    return settings.var_dir / "keys" / "links.keys"


def load_link_keys(settings: Settings | None = None) -> list[bytes]:
    """Link keys, newest first: HALL_LINK_KEY (comma-separated) or var/keys/links.keys (created in development)."""
    settings = settings or get_settings()
    if settings.link_key:
        keys = [k.strip().encode() for k in settings.link_key.split(",") if k.strip()]
        if keys:
            return keys
    path = _key_file(settings)
    if not path.exists():
        require_for_production(settings, "link_key")
        create_once(path, secrets.token_urlsafe(32).encode() + b"\n")
    return [line.strip() for line in path.read_bytes().splitlines() if line.strip()]


_signer: tuple[Settings, LinkSigner] | None = None


def link_signer() -> LinkSigner:
    """The process's link signer (rebuilt when the settings object changes, e.g. in tests)."""
    global _signer
    settings = get_settings()
    if _signer is None or _signer[0] is not settings:
        _signer = (settings, LinkSigner(load_link_keys(settings)))
    return _signer[1]
