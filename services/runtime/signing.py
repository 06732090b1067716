"""Unguessable, verifiable tokens for links that cannot carry a bearer header (e.g. calendar feeds)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from services.runtime.settings import Settings, create_once, get_settings, require_for_production


def _secret_file(settings: Settings) -> Path:
    return settings.var_dir / "secrets" / "signing.key"


def server_secret(settings: Settings | None = None) -> bytes:
    """HALL_SIGNING_SECRET, or a random secret created once under var/ (development only: shared by local replicas)."""
    settings = settings or get_settings()
    if settings.signing_secret:
        return settings.signing_secret.encode()
    path = _secret_file(settings)
    if not path.exists():
        # Every service must hold the same secret, or each would dead-letter the others' events as forged.
        require_for_production(settings, "signing_secret")
        create_once(path, secrets.token_urlsafe(48).encode() + b"\n")
    return path.read_bytes().strip()


def token(purpose: str, message: str, *, settings: Settings | None = None, length: int = 32) -> str:
    """A URL-safe HMAC-SHA256 token of `message` for one purpose (different purposes never collide)."""
    mac = hmac.new(server_secret(settings), f"{purpose}\x00{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:length]


def matches(candidate: str, expected: str) -> bool:
    """Compare tokens in constant time."""
    return hmac.compare_digest(candidate.encode(), expected.encode())


SIGNATURE_HEADER = "x-hall-signature"
_EVENT_KEYS: dict[tuple[str | None, Path], bytes] = {}


def _event_key(settings: Settings | None = None) -> bytes:
    # Cached per secret source: this runs for every event published and consumed.
    settings = settings or get_settings()
    source = (settings.signing_secret, settings.var_dir)  # not the key file's path: joining it per call showed up
    if source not in _EVENT_KEYS:
        _EVENT_KEYS[source] = hmac.new(server_secret(settings), b"bus-event", hashlib.sha256).digest()
    return _EVENT_KEYS[source]


def sign_event(body: bytes, settings: Settings | None = None) -> str:
    """The signature services put on every domain event they publish (channel adapters cannot make one)."""
    return hmac.digest(_event_key(settings), body, "sha256").hex()  # one call into OpenSSL, same digest


def event_signed(body: bytes, signature: object, settings: Settings | None = None) -> bool:
    """Tell whether a domain event carries a valid signature of this deployment."""
    return isinstance(signature, str) and hmac.compare_digest(signature, sign_event(body, settings))
