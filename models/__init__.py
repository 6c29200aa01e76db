"""Tables and rules. Importing this package registers every table on SQLModel.metadata."""

from models import approvals, digests, events, outbox, requests, schedule, standups, workspaces  # noqa: F401
