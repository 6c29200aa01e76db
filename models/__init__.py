"""Tables and rules. Importing this package registers every table on SQLModel.metadata."""

from models import (  # noqa: F401
    activities,
    approvals,
    digests,
    events,
    outbox,
    requests,
    schedule,
    standups,
    submissions,
    workspaces,
)
