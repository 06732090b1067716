"""One Settings object per process, read from the environment (HALL_* and <SERVICE>_*), and the production check.

Every environment variable the platform reads is declared here (docs/deploy.md lists them); no other module reads
`os.environ` for configuration. `python -m services.runtime.settings check` lists every production problem.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
PORTS = {"console": 8000, "intake": 8001, "triage": 8002, "meeting": 8003, "ledger": 8004, "feedback": 8005}


class ServiceVars(BaseSettings):
    """One service's own variables, <SERVICE>_DATABASE_URL, _AMQP_URL, _PORT, _URL (read live: tests change them)."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str | None = None
    amqp_url: str | None = None
    port: int | None = None
    url: str | None = None


def service_vars(service: str) -> ServiceVars:
    """The <SERVICE>_* variables of one service, as the environment holds them now."""
    return ServiceVars(_env_prefix=f"{service.upper()}_")  # type: ignore[call-arg]


class ConsoleVars(BaseSettings):
    """CONSOLE_INTAKE_API_KEY (the console's key for resident reports) and CONSOLE_IDP_LOGIN_URL."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    intake_api_key: str | None = None
    idp_login_url: str | None = None


class IntakeVars(BaseSettings):
    """INTAKE_PHOTO_DIR, INTAKE_REVEAL_PER_HOUR (per staff member), INTAKE_REVEAL_TTL_S (how long a phone shows)."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    photo_dir: Path | None = None
    reveal_per_hour: int = Field(20, ge=1, le=1000)
    reveal_ttl_s: int = Field(600, ge=30, le=3600)


class LedgerVars(BaseSettings):
    """LEDGER_RED_COMPLETE_WORKDAYS=3, ...: deadlines per level; unset ones keep the DeadlinePolicy default."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    red_first_action_hours: int | None = Field(None, ge=1, le=72)
    red_complete_workdays: int | None = Field(None, ge=1, le=60)
    yellow_complete_workdays: int | None = Field(None, ge=1, le=120)
    green_complete_workdays: int | None = Field(None, ge=1, le=120)
    warn_workdays_before: int | None = Field(None, ge=0, le=20)


class Settings(BaseSettings):
    """Process-wide settings; every field can be set as HALL_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="HALL_", extra="ignore")

    env: str = Field("development", pattern="^(development|test|production)$")
    host: str = "127.0.0.1"
    public_url: str = Field("http://127.0.0.1:8000", description="The console's address in links sent to people")
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    amqp_nodes: str = Field(
        "", description="Comma list of the broker cluster's nodes (host:port): each URL is tried on each, in turn"
    )
    quorum_group_size: int | None = Field(
        None, ge=1, le=99, description="x-quorum-initial-group-size of every queue (default: the broker's own)"
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    var_dir: Path = REPO_ROOT / "var"
    prefetch: int = Field(64, ge=1, le=10_000)
    delivery_limit: int = Field(10, ge=1)
    retry_delays_ms: list[int] = [1000, 5000, 30000]
    group_commit_max: int = Field(64, ge=1, le=1000, description="Most units of work committed in one transaction")
    group_commit_workers: int | None = Field(
        None, ge=1, le=64, description="Transactions in flight per process (default: 1 on SQLite, 4 on PostgreSQL)"
    )
    relay_batch: int = Field(500, ge=1, le=5000)
    relay_poll_ms: int = Field(1000, ge=10)
    relay_lease_s: int = Field(30, ge=5)
    instance: str | None = Field(
        None, description="This process's stable name for its outbox leases (default host:service:port)"
    )
    inbox_retention_days: int = Field(14, ge=1)
    outbox_retention_hours: int = Field(24, ge=1)
    max_body_bytes: int = 1_048_576
    upload_max_bytes: int = Field(5 * 1_048_576 + 65_536, ge=1024, description="Upload routes: 5 MiB + form overhead")
    trusted_proxies: str = Field(
        "", description="Comma list of IPs/CIDRs whose X-Forwarded-For is believed (reverse proxy, console); none"
    )
    ratelimit_prefix: str = "hall:rl"
    ratelimit_window_s: int = Field(60, ge=1, description="Window of every rate limit below")
    ratelimit_per_api_key: int = Field(600, ge=0, description="Reports per window per API key (0 = off)")
    ratelimit_per_reporter: int = Field(10, ge=0, description="Reports per window per reporter")
    ratelimit_per_ip: int = Field(300, ge=0, description="Public lookups and Open311 posts per window per IP (CGNAT)")
    jwt_issuer: str = "hall-local"
    jwt_audience: str = "hall"
    jwt_private_key_file: Path | None = None
    jwt_public_key_file: Path | None = None
    jwt_jwks_url: str | None = None
    pii_key: str | None = None
    pseudonym_key: str | None = None  # HMAC key for pseudonymous refs; independent of the rotating PII keys
    link_key: str | None = None  # one-time link signing keys (comma-separated, newest first)
    signing_secret: str | None = None  # HMAC secret for unguessable links (e.g. calendar feeds); else var/
    log_level: str = "INFO"
    log_json: bool = True

    @cached_property
    def console(self) -> ConsoleVars:
        """The console's own variables (CONSOLE_*)."""
        return ConsoleVars()

    @cached_property
    def intake(self) -> IntakeVars:
        """Intake's own variables (INTAKE_*)."""
        return IntakeVars()

    @cached_property
    def ledger(self) -> LedgerVars:
        """The ledger's own variables (LEDGER_*)."""
        return LedgerVars()

    def database_url(self, service: str) -> str:
        """<SERVICE>_DATABASE_URL, or a SQLite file var/<service>.db."""
        url = service_vars(service).database_url
        if url:
            return url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.var_dir / f'{service}.db').resolve()}"

    def amqp_url_for(self, service: str) -> str:
        """<SERVICE>_AMQP_URL (the service's own broker user, deploy/rabbitmq), or HALL_AMQP_URL."""
        return service_vars(service).amqp_url or self.amqp_url

    def amqp_urls_for(self, service: str) -> list[str]:
        """The service's broker URL once per node of HALL_AMQP_NODES (its user and vhost on every node)."""
        from services.runtime.amqp import node_urls

        return node_urls(self.amqp_url_for(service), self.amqp_nodes)

    def port(self, service: str) -> int:
        """<SERVICE>_PORT, or the default port of the service."""
        return service_vars(service).port or PORTS[service]

    def url_of(self, service: str) -> str:
        """<SERVICE>_URL (where the console reaches a service), or the service on this host at its port."""
        return (service_vars(service).url or f"http://127.0.0.1:{self.port(service)}").rstrip("/")

    def instance_of(self, service: str) -> str:
        """HALL_INSTANCE, else host:service:port: no two live processes share it, a restarted one keeps it."""
        if self.instance:
            return self.instance
        # A process without a known port (a test's probe) gets its pid: no restarted process shares it.
        port = service_vars(service).port or PORTS.get(service) or f"pid{os.getpid()}"
        return f"{socket.gethostname()}:{service}:{port}"


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached; tests clear the cache after changing the environment)."""
    return Settings()


def create_once(path: Path, content: bytes) -> None:
    """Create a secret file only if absent, atomically: concurrent processes all end up reading one winner."""
    if path.exists():
        return
    import os
    import uuid

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_bytes(content)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # fails if another process got there first; theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Need:
    """A secret production must be given: its variable, why, and the file development creates instead."""

    var: str
    given: Callable[[Settings], bool]
    fallback: Callable[[Settings], Path]
    zh: str
    en: str


NEEDS: dict[str, Need] = {
    "signing_secret": Need(
        "HALL_SIGNING_SECRET",
        lambda s: bool(s.signing_secret),
        lambda s: s.var_dir / "secrets" / "signing.key",
        "签名所有事件和日历链接的密钥，各服务取同一个值",
        "the secret that signs every event and calendar link (the same value for every service; "
        "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')",
    ),
    "pii_key": Need(
        "HALL_PII_KEY",
        lambda s: bool(s.pii_key),
        lambda s: s.var_dir / "keys" / "pii.keys",
        "加密居民姓名和电话的密钥（逗号分隔，新的在前）",
        "the keys that encrypt residents' names and phones (comma-separated, newest first)",
    ),
    "pseudonym_key": Need(
        "HALL_PSEUDONYM_KEY",
        lambda s: bool(s.pseudonym_key),
        lambda s: s.var_dir / "keys" / "pseudonym.key",
        "生成化名编号的密钥（与 PII 密钥无关，不轮换）",
        "the HMAC key of pseudonymous references (independent of the PII keys; never rotated)",
    ),
    "link_key": Need(
        "HALL_LINK_KEY",
        lambda s: any(k.strip() for k in (s.link_key or "").split(",")),
        lambda s: s.var_dir / "keys" / "links.keys",
        "签发一次性链接（问卷、投票）的密钥（逗号分隔，新的在前）",
        "the keys that sign one-time links (questionnaires, votes; comma-separated, newest first)",
    ),
    "jwt_private_key_file": Need(
        "HALL_JWT_PRIVATE_KEY_FILE",
        lambda s: s.jwt_private_key_file is not None,
        lambda s: s.var_dir / "keys" / "jwt-ed25519.pem",
        "内置登录签发令牌的私钥文件",
        "the private key file the built-in issuer signs tokens with",
    ),
}


class NotReadyForProduction(RuntimeError):
    """A production process lacks what it needs; the message lists every problem."""


def production_problems(settings: Settings, needs: tuple[str, ...] = tuple(NEEDS)) -> list[str]:
    """Every problem of a production process in words (none outside production, or when a fallback file exists)."""
    if settings.env != "production":
        return []
    problems = []
    for name in needs:
        need = NEEDS[name]
        if not need.given(settings) and not need.fallback(settings).exists():
            problems.append(f"{need.var} must be set in production: {need.en}（{need.zh}）")
    return problems


def require_for_production(settings: Settings, *needs: str) -> None:
    """Refuse to go on in production while anything in `needs` (default: everything) is missing."""
    problems = production_problems(settings, needs or tuple(NEEDS))
    if problems:
        raise NotReadyForProduction("\n".join(problems))


if __name__ == "__main__" and sys.argv[1:] == ["check"]:
    # The operator's pre-flight: every problem at once, then a non-zero exit.
    found = production_problems(get_settings())
    print("\n".join(found) or "ok")
    sys.exit(1 if found else 0)
