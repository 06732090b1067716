"""One Settings object per process, read from the environment (HALL_* and <SERVICE>_*)."""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
PORTS = {"console": 8000, "intake": 8001, "triage": 8002, "meeting": 8003, "ledger": 8004, "feedback": 8005}


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

    def database_url(self, service: str) -> str:
        """<SERVICE>_DATABASE_URL, or a SQLite file var/<service>.db."""
        url = os.environ.get(f"{service.upper()}_DATABASE_URL")
        if url:
            return url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.var_dir / f'{service}.db').resolve()}"

    def amqp_url_for(self, service: str) -> str:
        """<SERVICE>_AMQP_URL (the service's own broker user, deploy/rabbitmq), or HALL_AMQP_URL."""
        return os.environ.get(f"{service.upper()}_AMQP_URL") or self.amqp_url

    def amqp_urls_for(self, service: str) -> list[str]:
        """The service's broker URL once per node of HALL_AMQP_NODES (its user and vhost on every node)."""
        from services.runtime.amqp import node_urls

        return node_urls(self.amqp_url_for(service), self.amqp_nodes)

    def port(self, service: str) -> int:
        """<SERVICE>_PORT, or the default port of the service."""
        return int(os.environ.get(f"{service.upper()}_PORT", PORTS[service]))

    def instance_of(self, service: str) -> str:
        """HALL_INSTANCE, else host:service:port: no two live processes share it, a restarted one keeps it."""
        if self.instance:
            return self.instance
        # A process without a known port (a test's probe) gets its pid: no restarted process shares it.
        port = os.environ.get(f"{service.upper()}_PORT") or PORTS.get(service) or f"pid{os.getpid()}"
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
