"""Settings: one pydantic-settings object; the defaults are a zero-setup single machine.

Every field can be set from the environment with the ``PRIVATETRADE_`` prefix, e.g.
``PRIVATETRADE_DATA_DIR=/srv/privatetrade`` or
``PRIVATETRADE_DATABASE_URL=postgresql+psycopg://user@db/privatetrade``.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from privatetrade.domain.alert_thresholds import AlertThresholds

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """Return ``~/.privatetrade``, the data directory when none is configured."""
    return Path.home() / ".privatetrade"


def _default_workers() -> int:
    return max(os.cpu_count() or 1, 1)


class Settings(BaseSettings):
    """Configuration of privatetrade.

    Attributes:
        data_dir: Where bars (Parquet), the symbol catalog and the SQLite database live.
        database_url: SQLAlchemy URL; SQLite in the data directory when unset.
        host: Interface the server binds to (loopback by default).
        port: TCP port of the server.
        server_processes: Number of web server processes (uvicorn workers).
        executor: ``local`` (a process pool on this machine) or ``dask``.
        workers: Worker processes of the local pool.
        dask_scheduler: Address of the Dask scheduler, e.g. ``tcp://127.0.0.1:8786``.
        lease_seconds: How long a dispatcher's claim on a job lasts without renewal.
        max_attempts: Attempts before a job whose worker keeps dying fails (``worker_lost``).
        job_time_limit_seconds: How long one attempt of a job may run before it is
            stopped and fails with reason ``time_limit`` (not retried); 1 s to 7 days.
        job_time_limits: Per-kind limits overriding ``job_time_limit_seconds``, e.g.
            ``PRIVATETRADE_JOB_TIME_LIMITS='{"backtest": 600}'``.
        max_bars: Most bars one backtest may use.
        max_combinations: Most combinations one optimization (or walk-forward, over all
            its windows) of a user may run; more is refused before anything is queued.
        combination_limits: Per-user limits overriding ``max_combinations``, by user
            name, e.g. ``PRIVATETRADE_COMBINATION_LIMITS='{"alice": 1000000}'``.
        max_universe_symbols: Most symbols one universe scan or portfolio may hold
            (1 to 2,000); a larger list or market is refused before anything is queued.
        max_body_bytes: Largest accepted request body.
        max_active_jobs: Most queued plus running jobs per owner (more: 429).
        max_running_jobs: Most jobs of one owner running at once (None: no cap); the
            rest wait in the queue while other owners' jobs run.
        db_pool_size: Connections kept open to PostgreSQL per process.
        db_pool_timeout: Seconds to wait for a free connection before answering 503.
        secret_key: Keys the stored hashes of sessions and tokens; required when the
            server binds to a non-loopback address (generated once otherwise).
        admin_password: Password of the ``admin`` user created on first start; without
            it, the first start prints a one-time login link instead.
        session_hours: Lifetime of a browser session.
        cookie_secure: ``auto`` marks cookies Secure on HTTPS requests (also behind a
            proxy sending X-Forwarded-Proto), ``always`` or ``never``.
        max_failed_logins: Failed logins on one account from one client (within 15
            minutes) before that client has to wait between tries (429 with
            Retry-After: 5 s, doubling up to 5 minutes); see docs/api.md.
        trusted_proxies: Addresses or networks (``10.0.0.5``, ``10.0.0.0/8``) of reverse
            proxies whose ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed; empty
            (the default) believes nobody's. From the environment: comma-separated
            (``PRIVATETRADE_TRUSTED_PROXIES=127.0.0.1,::1``) or a JSON list.
        log_level: Minimum level of log lines.
        log_json: JSON log lines (structured); plain text when False.
        alerting: The built-in alerting: the server checks the thresholds of
            ``alert_thresholds`` itself and notifies the administrators' channels when an
            alert fires and when it resolves (for installations without Prometheus; see
            docs/monitoring/README.md). Off by default.
        alert_check_seconds: Seconds between two checks of the built-in alerting.
        alert_thresholds: Its thresholds (JSON; only the fields to change), e.g.
            ``PRIVATETRADE_ALERT_THRESHOLDS='{"queue_depth": 200}'``; the defaults are
            those of docs/monitoring/alerts.yml.
        data_provider: The data provider of updates and fetches from the web UI and API
            (``fdr``, ``pykrx`` or ``yfinance``, with its extra installed); None (the
            default) keeps the service offline.
        scheduled_updates: Submit a daily ``data_update`` job after each market's close
            (KRX, NYSE) on its sessions; needs ``data_provider``. Off by default.
        update_delay_minutes: How long after the close the scheduled update runs (0 to
            720 minutes; default 30), so that the provider has the day's final bar.
        public_url: The service's address as users reach it (``https://backtest.example.org``);
            links in notifications start with it (default ``http://<host>:<port>``).
        smtp_host: SMTP server of e-mail notifications (None: e-mail channels are off).
        smtp_port: Its port (587 for STARTTLS, 25 without).
        smtp_user: User name to log in with (None: no login).
        smtp_password: Its password (never logged or shown).
        smtp_from: The From address of notification e-mails.
        smtp_starttls: Upgrade the connection with STARTTLS before logging in.
        notification_key: Fernet key (``cryptography.fernet.Fernet.generate_key()``) that
            encrypts channels' targets in the database; derived from ``secret_key`` when
            unset. Changing it makes stored channels unreadable.
        notification_max_attempts: Delivery attempts of a message before it is given up.
        notification_retry_seconds: Wait before the first retry (doubling each time).
        notification_retry_max_seconds: Longest wait between two attempts.
        notification_timeout_seconds: Seconds one delivery attempt may take.
        notification_start_delay_seconds: Wait after start before the first delivery.
    """

    model_config = SettingsConfigDict(env_prefix="PRIVATETRADE_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    server_processes: int = Field(1, ge=1, le=64)
    executor: Literal["local", "dask"] = "local"
    workers: int = Field(default_factory=_default_workers, ge=1, le=256)
    dask_scheduler: str | None = None
    lease_seconds: float = Field(15.0, gt=0.0)
    max_attempts: int = Field(3, ge=1, le=20)
    job_time_limit_seconds: float = Field(900.0, ge=1.0, le=7 * 86_400.0)
    job_time_limits: dict[str, Annotated[float, Field(ge=1.0, le=7 * 86_400.0)]] = Field(
        default_factory=dict
    )
    max_bars: int = Field(2_000_000, ge=1)
    max_combinations: int = Field(100_000, ge=1, le=100_000_000)
    combination_limits: dict[str, Annotated[int, Field(ge=1, le=100_000_000)]] = Field(
        default_factory=dict
    )
    max_universe_symbols: int = Field(2_000, ge=1, le=2_000)
    max_body_bytes: int = Field(65_536, ge=1024)
    max_active_jobs: int = Field(1_000, ge=1)
    max_running_jobs: int | None = Field(None, ge=1)
    db_pool_size: int = Field(10, ge=1)
    db_pool_timeout: float = Field(5.0, gt=0.0)
    secret_key: SecretStr | None = None
    admin_password: SecretStr | None = None
    session_hours: float = Field(12.0, gt=0.0, le=24 * 90)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    max_failed_logins: int = Field(5, ge=1)
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = True
    alerting: bool = False
    alert_check_seconds: float = Field(30.0, ge=1.0, le=3_600.0)
    alert_thresholds: AlertThresholds = Field(default_factory=AlertThresholds)
    data_provider: str | None = None
    scheduled_updates: bool = False
    update_delay_minutes: int = Field(30, ge=0, le=720)
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$", max_length=500)
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field("privatetrade@localhost", max_length=254)
    smtp_starttls: bool = True
    notification_key: SecretStr | None = None
    notification_max_attempts: int = Field(8, ge=1, le=50)
    notification_retry_seconds: float = Field(30.0, ge=0.01, le=86_400.0)
    notification_retry_max_seconds: float = Field(3600.0, ge=0.01, le=7 * 86_400.0)
    notification_timeout_seconds: float = Field(10.0, ge=0.1, le=300.0)
    notification_start_delay_seconds: float = Field(0.0, ge=0.0, le=86_400.0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(f"not an IP address or network: {entry!r}") from exc
        return tuple(networks)

    @field_validator("data_provider", mode="before")
    @classmethod
    def _provider_name(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @field_validator("job_time_limits")
    @classmethod
    def _check_time_limit_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        from privatetrade.domain.kinds import JobKind

        unknown = sorted(set(value) - {kind.value for kind in JobKind})
        if unknown:
            known = ", ".join(kind.value for kind in JobKind)
            raise ValueError(f"unknown job kind(s) {', '.join(unknown)}; known: {known}")
        return value

    @field_validator("combination_limits")
    @classmethod
    def _lower_user_names(cls, value: dict[str, int]) -> dict[str, int]:
        return {name.lower(): limit for name, limit in value.items()}

    def combination_limit(self, username: str) -> int:
        """Most combinations one optimization or walk-forward of ``username`` may run."""
        return self.combination_limits.get(username.lower(), self.max_combinations)

    def time_limit(self, kind: str) -> float:
        """Seconds one attempt of a job of ``kind`` may run (``time_limit`` after that)."""
        return self.job_time_limits.get(str(kind), self.job_time_limit_seconds)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+pysqlite:///{self.data_dir / 'privatetrade.db'}"

    def secret(self) -> str | None:
        """The configured secret key as text."""
        return None if self.secret_key is None else self.secret_key.get_secret_value()

    @property
    def base_url(self) -> str:
        """The service's public URL (``public_url``, else ``http://<host>:<port>``)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def admin_password_text(self) -> str | None:
        """The configured first password of ``admin`` as text."""
        return None if self.admin_password is None else self.admin_password.get_secret_value()
