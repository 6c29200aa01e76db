"""Activities close their loop: goal → plan → run → review (目标-策划-执行-复盘).

An activity request's goal lines live in `Request.fields["goals"]` (so they are key fields like
the dates and the budget, and an edit after approval restarts the chain). What happens while the
activity runs, and its review, live in the tables below. No Slack here.
"""

from models.activities.tables import ActivityFlag, ActivityProgress, ActivityReview, ActivityTemplate

__all__ = ["ActivityFlag", "ActivityProgress", "ActivityReview", "ActivityTemplate"]
