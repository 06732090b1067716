"""Personal data: encryption at rest (rotatable keys), pseudonyms, masking and scrubbing of free text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from services.runtime.settings import Settings, create_once, get_settings

PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
LANDLINE_RE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
ID_CARD_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
# Rooms: "301室", "2单元301", "12-2-301", "12#2-301", "302房"
ROOM_RE = re.compile(
    r"(?:(?:(?<=单元)|(?<=栋)|(?<=幢)|(?<=座)|(?<=号楼))\s*\d{3,4}(?:室|房|号)?)"
    r"|(?:\d{1,3}\s*[-#－]\s*\d{1,2}\s*[-－]\s*\d{3,4})|(?:\d{3,4}\s*(?:室|房))"
)


def mask_phone(phone: str | None) -> str | None:
    """138****1234."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_name(name: str | None) -> str | None:
    """王** (keep the surname, mask the rest)."""
    if not name:
        return None
    name = name.strip()
    return name[0] + "*" * max(1, len(name) - 1)


def scrub_text(text: str) -> str:
    """Remove phone numbers, ID numbers and room numbers from free text (published text must be anonymous)."""
    text = ID_CARD_RE.sub("[证件号]", text)
    text = PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = LANDLINE_RE.sub("[电话]", text)

    def _room(m: re.Match) -> str:
        s = m.group(0)
        parts = re.split(r"[-#－]", s)
        if len(parts) == 3:  # building-unit-room: keep building and unit
            return f"{parts[0].strip()}-{parts[1].strip()}-***"
        return "***"

    return ROOM_RE.sub(_room, text)


def _key_file(settings: Settings) -> Path:
    return settings.var_dir / "keys" / "pii.keys"


def load_keys(settings: Settings | None = None) -> list[bytes]:
    """PII keys, newest first: HALL_PII_KEY (comma-separated) or var/keys/pii.keys (created in development)."""
    settings = settings or get_settings()
    if settings.pii_key:
        return [k.strip().encode() for k in settings.pii_key.split(",") if k.strip()]
    path = _key_file(settings)
    if not path.exists():
        if settings.env == "production":
            raise RuntimeError("HALL_PII_KEY must be set in production")
        create_once(path, Fernet.generate_key() + b"\n")
    return [line.strip() for line in path.read_bytes().splitlines() if line.strip()]


def load_pseudonym_key(settings: Settings | None = None) -> bytes:
    """HALL_PSEUDONYM_KEY or var/keys/pseudonym.key (created once in development, required in production)."""
    settings = settings or get_settings()
    if settings.pseudonym_key:
        return settings.pseudonym_key.encode()
    path = settings.var_dir / "keys" / "pseudonym.key"
    if not path.exists():
        if settings.env == "production":
            raise RuntimeError("HALL_PSEUDONYM_KEY must be set in production")
        create_once(path, base64.urlsafe_b64encode(os.urandom(32)) + b"\n")
    return path.read_bytes().strip()


def new_key() -> str:
    """A fresh PII encryption key (Fernet) to prepend to HALL_PII_KEY when rotating."""
    return Fernet.generate_key().decode()


class Vault:
    """Encrypts personal data at rest; the first key encrypts, every key decrypts (rotation)."""

    def __init__(self, keys: list[bytes], pseudonym_key: bytes | None = None):
        if not keys:
            raise ValueError("at least one key")
        self.keys = keys
        self._f = MultiFernet([Fernet(k) for k in keys])
        # Pseudonyms must outlive key rotation, so they have their own key (see load_pseudonym_key).
        self._pseudo_key = hashlib.sha256(b"hall-pseudonym:" + (pseudonym_key or keys[-1])).digest()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Vault:
        """The vault of this deployment: PII keys plus the pseudonym key."""
        settings = settings or get_settings()
        return cls(load_keys(settings), load_pseudonym_key(settings))

    def encrypt(self, value: str | None) -> bytes | None:
        """Encrypt a value (None stays None)."""
        return None if value is None else self._f.encrypt(value.encode())

    def decrypt(self, token: bytes | None) -> str | None:
        """Decrypt a value (None stays None)."""
        return None if token is None else self._f.decrypt(token).decode()

    def rotate(self, token: bytes | None) -> bytes | None:
        """Re-encrypt under the newest key."""
        return None if token is None else self._f.rotate(token)

    def pseudonym(self, value: str, *, prefix: str = "r") -> str:
        """A stable pseudonymous reference; keyed with the oldest key so rotation keeps references stable."""
        digest = hmac.new(self._pseudo_key, value.encode(), hashlib.sha256).hexdigest()[:20]
        return f"{prefix}_{digest}"


if __name__ == "__main__":
    # `python -m services.runtime.privacy new-key`: print a key for HALL_PII_KEY (newest first).
    import sys

    if sys.argv[1:] != ["new-key"]:
        raise SystemExit("usage: python -m services.runtime.privacy new-key")
    print(new_key())
