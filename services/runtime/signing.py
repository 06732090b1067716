"""Unguessable, verifiable tokens for links that cannot carry a bearer header (e.g. calendar feeds)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from services.runtime.settings import Settings, create_once, get_settings


def _secret_file(settings: Settings) -> Path:
    return settings.var_dir / "secrets" / "signing.key"


def server_secret(settings: Settings | None = None) -> bytes:
    """HALL_SIGNING_SECRET, or a random secret created once under var/ (shared by local replicas)."""
    settings = settings or get_settings()
    if settings.signing_secret:
        return settings.signing_secret.encode()
    path = _secret_file(settings)
    create_once(path, secrets.token_urlsafe(48).encode() + b"\n")
    return path.read_bytes().strip()


def token(purpose: str, message: str, *, settings: Settings | None = None, length: int = 32) -> str:
    """A URL-safe HMAC-SHA256 token of `message` for one purpose (different purposes never collide)."""
    mac = hmac.new(server_secret(settings), f"{purpose}\x00{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:length]


def matches(candidate: str, expected: str) -> bool:
    """Compare tokens in constant time."""
    return hmac.compare_digest(candidate.encode(), expected.encode())
