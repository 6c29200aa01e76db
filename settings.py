"""Settings: read once from the environment and `.env`. Every knob Tandem has lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["socket", "http"]


class ConfigurationError(Exception):
    """Tandem cannot start as configured; the message says what to change (bot.py exits 2 with it)."""


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: str = ""
    slack_app_token: str = ""
    slack_signing_secret: str = ""
    slack_api_url: str = "https://slack.com/api/"

    tandem_mode: Mode = "socket"
    host: str = "0.0.0.0"
    port: int = 3000

    database_url: str = "sqlite:///tandem.db"
    # The sandbox's own SQLite file (./tandem sandbox); made afresh at every sandbox start.
    sandbox_database: str = "sandbox.db"

    default_language: Literal["en", "zh_CN"] = "en"
    default_timezone: str = "UTC"
    # ISO 4217 code of money metrics (CAC, GMV…) in workspaces that did not choose one with
    # `/tandem currency`; empty: money metrics show no currency until someone says which.
    default_currency: str = ""
    # Comma-separated Slack user ids who may administer Tandem besides Slack admins/owners.
    tandem_admins: str = ""
    # Approvals: a chain in YAML used until an admin saves one with /approval config; and whether
    # one person may approve two stages of the same request.
    approvals_file: str = ""
    approvals_allow_same_approver: bool = False
    # Digests: the bearer token of POST /api/metrics (empty: the endpoint refuses everyone), and a
    # directory of the team's own digest templates (NAME.yaml.j2; empty: only Tandem's default).
    metrics_api_token: str = ""
    digest_templates_dir: str = ""
    # Activities: at half time an activity below this share of its pace is "at risk"; the review is
    # asked for this many days after the end (late data settles).
    activity_at_risk_share: float = Field(default=0.7, gt=0, le=1)
    activity_settle_days: int = Field(default=2, ge=0, le=30)

    # Threads that run blocking work (database, Web API) off the event loop; see bot.py.
    worker_threads: int = Field(default=16, ge=2, le=512)
    scheduler_enabled: bool = True
    scheduler_grace_minutes: int = Field(default=60, ge=0)
    # The active scheduler confirms its lock and looks for schedule changes saved on any replica this
    # often; a standby tries to take over this often (also the longest wait between database retries).
    scheduler_poll_seconds: float = Field(default=1.0, gt=0)
    scheduler_takeover_seconds: float = Field(default=5.0, gt=0)
    outbox_sweep_seconds: float = Field(default=15.0, gt=0)
    outbox_workers: int = Field(default=4, ge=1, le=32)
    slack_timeout_seconds: int = Field(default=10, ge=1)
    # Socket Mode connections held at once (Slack allows an app 10 in all, across replicas).
    socket_connections: int = Field(default=2, ge=1, le=10)
    # sent messages, handled events and scheduled-run claims are pruned after this (models/retention.py)
    retention_days: int = Field(default=30, ge=1)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object a line, with context (logs.py)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        # logging.basicConfig would raise ValueError("Unknown level") with a traceback at start
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)} (got {value!r})")
        return level

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("default_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        from babel.numbers import list_currencies

        value = value.strip().upper()
        if value and value not in list_currencies():
            raise ValueError(f"DEFAULT_CURRENCY must be an ISO 4217 code such as CNY, USD or EUR (got {value!r})")
        return value

    @property
    def admin_user_ids(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.tandem_admins.split(",") if part.strip())


@dataclass(frozen=True)
class MissingCredential:
    variable: str
    where: str
    needed_for: str


_WHERE = {
    "SLACK_BOT_TOKEN": "api.slack.com/apps → your app → OAuth & Permissions → Bot User OAuth Token (xoxb-…)",
    "SLACK_APP_TOKEN": "api.slack.com/apps → your app → Basic Information → App-Level Tokens, "
    "scope connections:write (xapp-…)",
    "SLACK_SIGNING_SECRET": "api.slack.com/apps → your app → Basic Information → App Credentials → Signing Secret",
}
_PREFIX = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-"}


def _looks_placeholder(variable: str, value: str) -> bool:
    value = value.strip()
    if not value or "..." in value or "…" in value or "<" in value or "your" in value.lower():
        return True
    if value.lower() in {"changeme", "change-me", "todo", "xxx", "placeholder", "secret"}:
        return True
    prefix = _PREFIX.get(variable)
    return bool(prefix) and (not value.startswith(prefix) or len(value) <= len(prefix) + 3)


def missing_credentials(settings: Settings, mode: Mode) -> list[MissingCredential]:
    """Which credentials the chosen mode needs but are unset or still placeholders."""
    needed = ["SLACK_BOT_TOKEN"] + (["SLACK_APP_TOKEN"] if mode == "socket" else ["SLACK_SIGNING_SECRET"])
    values = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_APP_TOKEN": settings.slack_app_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
    }
    mode_name = "Socket Mode" if mode == "socket" else "HTTP mode"
    return [
        MissingCredential(name, _WHERE[name], "both modes" if name == "SLACK_BOT_TOKEN" else mode_name)
        for name in needed
        if _looks_placeholder(name, values[name])
    ]
