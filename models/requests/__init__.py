"""Requirement requests: tables, form checks, the lifecycle and the queries."""

from models.requests.tables import (  # noqa: F401
    KINDS,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Request,
    RequestComment,
    RequestConfig,
    RequestEvent,
    RequestLabel,
    RequestReminder,
)
