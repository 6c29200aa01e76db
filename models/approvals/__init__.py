"""Activity approvals: tables, the chain and its checks, the running rules, the queries."""

from models.approvals.tables import (  # noqa: F401
    DECISIONS,
    RUN_STATUSES,
    ApprovalConfig,
    ApprovalDecision,
    ApprovalDelegation,
    ApprovalEvent,
    ApprovalRun,
)
