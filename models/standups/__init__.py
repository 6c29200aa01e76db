"""Daily standups: tables, the form checks, the schedule (what is due at `now`) and answers."""

from models.standups.tables import (  # noqa: F401
    Standup,
    StandupAnswer,
    StandupAway,
    StandupRun,
    StandupSend,
)
