"""The console's settings: where the five services are, the resident intake key, the login mode."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from services.runtime.settings import PORTS, Settings, get_settings

UPSTREAMS = ("intake", "triage", "meeting", "ledger", "feedback")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _upstream_urls(settings: Settings) -> dict[str, str]:
    return {
        name: os.environ.get(f"{name.upper()}_URL", f"http://127.0.0.1:{settings.port(name)}").rstrip("/")
        for name in UPSTREAMS
    }


@dataclass(frozen=True)
class ConsoleConfig:
    """What the console process needs; read once from the environment."""

    settings: Settings
    upstreams: dict[str, str] = field(default_factory=dict)
    intake_api_key: str | None = None
    idp_login_url: str | None = None
    static_dir: Path = STATIC_DIR
    port: int = PORTS["console"]

    @property
    def dev_login(self) -> bool:
        """The built-in dev login is offered only outside production."""
        return self.settings.env in ("development", "test")

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> ConsoleConfig:
        """Read CONSOLE_* and <SERVICE>_URL from the environment."""
        settings = settings or get_settings()
        return cls(
            settings=settings,
            upstreams=_upstream_urls(settings),
            intake_api_key=os.environ.get("CONSOLE_INTAKE_API_KEY") or None,
            idp_login_url=os.environ.get("CONSOLE_IDP_LOGIN_URL") or None,
            port=settings.port("console"),
        )
