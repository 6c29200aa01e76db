"""Tables and rules. Importing this package registers every table on SQLModel.metadata."""

from models import events, outbox, requests, schedule, workspaces  # noqa: F401
