"""The console's settings: where the five services are, the resident intake key, the login mode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from services.runtime.settings import PORTS, Settings, get_settings

UPSTREAMS = ("intake", "triage", "meeting", "ledger", "feedback")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _upstream_urls(settings: Settings) -> dict[str, str]:
    return {name: settings.url_of(name) for name in UPSTREAMS}


@dataclass(frozen=True)
class ConsoleConfig:
    """What the console process needs, taken from the process's Settings."""

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
        """Take CONSOLE_* and <SERVICE>_URL from the settings."""
        settings = settings or get_settings()
        return cls(
            settings=settings,
            upstreams=_upstream_urls(settings),
            intake_api_key=settings.console.intake_api_key or None,
            idp_login_url=settings.console.idp_login_url or None,
            port=settings.port("console"),
        )
