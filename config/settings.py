"""All settings in one tree, read from `LOGCENTER_*` environment variables and `.env`.

Nested sections use `__` in variable names (`LOGCENTER_LIMITS__MAX_BODY_BYTES=2097152`); the most
common ones also have flat names listed in the README.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The admin token `logcenter up` generates, under the data dir, readable by its owner only.
TOKEN_FILE = "admin_token"


class Limits(BaseModel):
    max_body_bytes: int = 1024 * 1024
    max_message_bytes: int = 8 * 1024
    max_stack_lines: int = 200
    max_stack_bytes: int = 256 * 1024
    max_context_depth: int = 8
    max_context_bytes: int = 64 * 1024
    #: Stream backlog above which the report endpoint answers 503 with Retry-After.
    max_backlog: int = 200_000
    #: A Sentry envelope, compressed and decompressed (attachments and other skipped items
    #: included); each event in it is held to `max_body_bytes` like a report.
    max_envelope_bytes: int = 20 * 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOGCENTER_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    #: `sqlite:///path/logcenter.db` or `http://host:9200`; empty = SQLite under data_dir.
    store_url: str = ""
    es_index_prefix: str = "logcenter-"
    #: `redis://host:6379/0` or `unix:///path/redis.sock`; empty = embedded Redis under data_dir.
    redis_url: str = ""
    redis_prefix: str = "lc:"

    api_host: str = "0.0.0.0"
    api_port: int = 8002
    dashboard_port: int = 8003
    #: The dashboard's language for browsers that have not picked one with its switch: "en" or
    #: "zh"; empty = the browser's own (Accept-Language: Chinese -> zh, anything else -> en).
    default_language: Literal["", "en", "zh"] = ""
    #: Base URL the dashboard and agent workers use to reach the API.
    api_url: str = "http://127.0.0.1:8002"
    #: The API's address as applications reach it (`https://logs.example.com`), used in the
    #: Sentry DSNs the projects API and page show; empty = the address each request came to.
    public_api_url: str = ""
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])

    #: Occurrences older than this many days are dropped (bug counts stay), in projects that
    #: set no `retention_days` of their own.
    retention_days: int = Field(default=30, ge=1)
    #: The longest any project may keep its occurrences (compliance): a project's own
    #: retention_days above it is refused, and a maximum lowered later caps older settings
    #: (and retention_days) when the indexer purges.
    retention_max_days: int = Field(default=365, ge=1)
    #: Below this share of free space on the data dir (and the SQLite file's folder), reports
    #: get 503 + Retry-After and /readyz fails until space returns; 0 turns the check off.
    min_free_disk_percent: float = 5.0
    #: Rows one export (`/api/v1/bugs/export`, `/api/v1/events/export`) streams at most.
    export_max_rows: int = 1_000_000
    limits: Limits = Field(default_factory=Limits)

    #: Context keys whose values are replaced by "[Filtered]" (case-insensitive, any depth).
    scrub_keys: list[str] = Field(default_factory=list)

    #: Per-project report rate (token bucket in Redis); 0 = no limit. Repeats over the limit get
    #: 429 + Retry-After; first occurrences of new fingerprints are always admitted (and counted).
    rate_limit_per_second: float = 0.0
    rate_limit_burst: int = 200
    #: How long a Sentry event's `event_id` is remembered: an SDK sending it again within this
    #: time (a retry) is answered without counting a second occurrence.
    sentry_dedup_seconds: int = 24 * 3600

    #: Every write but reporting needs it; empty = the data dir's generated token, if any.
    admin_token: str = ""
    #: Without any admin token, let anyone who reaches the API write (trusted networks only);
    #: off, such writes are refused. A token, once there, always wins.
    anonymous_writes: bool = False
    read_requires_token: bool = False

    indexer_batch: int = 1000
    indexer_block_ms: int = 200
    #: A batch read by an indexer that has not acknowledged it after this long is taken over
    #: by another indexer (the first one presumably died).
    indexer_claim_idle_ms: int = 30_000

    # Repair agent
    llm_model: str = "openai/gpt-4o-mini"
    llm_api_base: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 120.0
    llm_retries: int = 1
    llm_fallback_models: list[str] = Field(default_factory=list)
    repair_rounds: int = 3
    repair_job_timeout: int = 1800
    test_timeout: int = 300
    worker_cache_dir: Path = Path("data/worktrees")
    #: Where a repair runs the code it did not write (tests, fixes, the project's suite):
    #: "auto" (bubblewrap, else repairs are refused), "bubblewrap", or "none" (no isolation).
    repair_sandbox: Literal["auto", "bubblewrap", "none"] = "auto"
    #: Limits of each sandboxed command besides `test_timeout`: memory (per process), processes
    #: and output kept (the middle of longer output is dropped).
    repair_memory_bytes: int = 2 * 1024**3
    repair_processes: int = 256
    repair_output_bytes: int = 10 * 1024**2
    #: Seconds between a repair worker pool's heartbeats (what it can do); each lives three.
    worker_heartbeat_seconds: float = 15.0
    #: Repair new bugs and regressions on their own (projects with a repository, while a repair
    #: worker with an LLM runs); a project's own auto_repair, when set, overrides this.
    auto_repair: bool = True
    #: When a project's repository is configured for the first time, at most this many of its
    #: open NEW bugs (newest first) are queued for repair.
    auto_repair_backlog: int = 20

    # Alerts
    #: Where alert messages link to (the bug's page is `<url>/bugs/<id>`); empty = the
    #: dashboard on this machine (http://127.0.0.1:<dashboard_port>).
    public_dashboard_url: str = ""
    #: Run the alert deliverer inside the indexer process (`logcenter up`, `logcenter indexer`);
    #: off where `logcenter alerts` runs it on its own.
    alerts_in_indexer: bool = True
    #: At most one alert per bug per rule per trigger within this (a rule may set its own).
    alerts_cooldown_minutes: float = 30.0
    #: Flood control per channel: within each window the first `alerts_flood_first` alerts go
    #: out one by one, the rest are folded into one digest sent when the window ends.
    alerts_flood_window_seconds: float = Field(default=300.0, gt=0)
    alerts_flood_first: int = Field(default=5, ge=1)  # a single new bug is never held
    #: Bugs a digest names (it counts the others).
    alerts_digest_items: int = Field(default=10, ge=1)
    #: A failed send is tried again this many times, waiting backoff, 2 x backoff, ...
    alerts_retries: int = Field(default=3, ge=0)
    alerts_retry_backoff_seconds: float = 2.0
    alerts_timeout_seconds: float = 10.0
    #: Webhooks and mail servers on private, loopback or link-local addresses are refused
    #: (when saved and at every connection) unless this is set.
    alerts_allow_private: bool = False
    #: `host:port` of the DNS server that resolves channel hosts; empty = the system's resolver.
    alerts_dns_server: str = ""
    #: How long the indexer and the deliverer keep the rules and channels they read.
    alerts_cache_seconds: float = 5.0
    #: The alert stream keeps about this many facts (older ones are trimmed).
    alerts_stream_maxlen: int = 100_000

    @model_validator(mode="after")
    def _generated_token(self) -> Settings:
        """No token configured: every process on this data dir uses the one `up` generated."""
        if not self.admin_token and not self.anonymous_writes:
            self.admin_token = read_admin_token(self.data_dir)
        return self

    def writes_open(self) -> bool:
        """Writes need no token: anonymous writes were asked for and no token is set."""
        return self.anonymous_writes and not self.admin_token

    def dashboard_link(self) -> str:
        """The dashboard's public base URL, without a trailing slash."""
        url = self.public_dashboard_url or f"http://127.0.0.1:{self.dashboard_port}"
        return url.rstrip("/")

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.data_dir / 'logcenter.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def read_admin_token(data_dir: Path) -> str:
    """The token kept in `data_dir`; empty when there is none."""
    try:
        return (data_dir / TOKEN_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return ""


def create_admin_token(data_dir: Path) -> str:
    """The token kept in `data_dir`, generated first if there is none (file mode 0600).

    Written aside and linked into place, so a process starting at the same moment reads
    either no token or the whole one, and two starts never keep different tokens.
    """
    if token := read_admin_token(data_dir):
        return token
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, aside = tempfile.mkstemp(dir=data_dir, prefix=".admin_token.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        os.link(aside, data_dir / TOKEN_FILE)
    except FileExistsError:
        pass  # another start won the race: use its token
    finally:
        os.unlink(aside)
    return read_admin_token(data_dir)
