"""Metric digests (weekly, monthly, quarterly): business metrics, the week's numbers, digests and their sends."""

from models.digests.tables import (  # noqa: F401
    AGGREGATIONS,
    DIRECTIONS,
    SCHEDULED,
    Digest,
    DigestSend,
    DigestTemplate,
    Metric,
    MetricPoint,
)
