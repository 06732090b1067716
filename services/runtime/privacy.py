"""Personal data: encryption at rest (rotatable keys), pseudonyms, masking for staff, scrubbing of free text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path
from urllib.parse import unquote

from cryptography.fernet import Fernet, MultiFernet

from services.runtime.scrub import scrub
from services.runtime.settings import Settings, create_once, get_settings, require_for_production


def mask_phone(phone: str | None) -> str | None:
    """138****1234: for staff screens only; public surfaces show no phone at all."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_name(name: str | None) -> str | None:
    """王** (keep the surname, mask the rest): for staff screens only; public surfaces show no name at all."""
    if not name:
        return None
    name = name.strip()
    return name[0] + "*" * max(1, len(name) - 1)


def scrub_text(text: str) -> str:
    """Remove phones, ID numbers, rooms, household references and names from free text (see runtime.scrub)."""
    return scrub(text)


def public_text(text: str | None) -> str | None:
    """Free text as a public surface shows it: scrubbed once more at the door (None stays None)."""
    return scrub(text) if text else text


# Opaque ids (hashes, upload ids) in a photo's address are nobody's number; they are set aside before the check.
_OPAQUE = re.compile(r"[0-9a-fA-F]{16,}|[-_0-9A-Za-z]{24,}")


def public_photo(ref: str | None) -> bool:
    """Whether a photo's address may be shown where anyone reads it: no name, phone or room in its path or name."""
    if not ref:
        return False
    text = _OPAQUE.sub("/", unquote(ref))
    return scrub(text) == text


def _key_file(settings: Settings) -> Path:
    return settings.var_dir / "keys" / "pii.keys"


def load_keys(settings: Settings | None = None) -> list[bytes]:
    """PII keys, newest first: HALL_PII_KEY (comma-separated) or var/keys/pii.keys (created in development)."""
    settings = settings or get_settings()
    if settings.pii_key:
        return [k.strip().encode() for k in settings.pii_key.split(",") if k.strip()]
    path = _key_file(settings)
    if not path.exists():
        require_for_production(settings, "pii_key")
        create_once(path, Fernet.generate_key() + b"\n")
    return [line.strip() for line in path.read_bytes().splitlines() if line.strip()]


def load_pseudonym_key(settings: Settings | None = None) -> bytes:
    """HALL_PSEUDONYM_KEY or var/keys/pseudonym.key (created once in development, required in production)."""
    settings = settings or get_settings()
    if settings.pseudonym_key:
        return settings.pseudonym_key.encode()
    path = settings.var_dir / "keys" / "pseudonym.key"
    if not path.exists():
        require_for_production(settings, "pseudonym_key")
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
