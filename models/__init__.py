"""Tables and rules. Importing this package registers every table on SQLModel.metadata."""

from models import outbox, schedule, workspaces  # noqa: F401
