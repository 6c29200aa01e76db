"""How long the local Slack takes to answer, and Slack's per-method rate-limit tiers.

Both are off by default (the test suite stays fast and exact); the benchmarks and the tests about
slowness turn them on:

    slack.set_latency(Latency())       # every Web API call and response_url post answers late
    slack.apply_slack_tiers()          # Slack's published per-method limits, 429 + Retry-After

The latency model. Slack publishes no latency figures; what we assume for a busy day is:
- the body of the distribution is lognormal with median `median` (120 ms) and 99th percentile
  `p99` (1.5 s), i.e. mu = ln(0.12 s), sigma = ln(p99 / median) / z(0.99) = ln(12.5) / 2.326 ≈ 1.09
  (mean ≈ 0.22 s), capped at `tail`;
- on top of it `tail_share` (1 %) of calls take `tail` (4 s): Slack's worst moments.
Overall the median stays ≈ 120 ms, the mean is ≈ 0.25 s, and p99 lies at the edge of the 4 s atom
(0.99 × body's 99 % ≈ 98 % of calls answer within 1.5 s). The draws are seeded, so two runs meet
the same delays in the same order.

Where the delay sits: before the work (the trigger_id check, the post, the 429 decision), so a
views.open that waits 4 s meets an expired trigger, as the worst plausible Slack would do (the
docs do not say where in a slow call the 3-second trigger window is checked).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist

# Per-method tiers, from each method's page (https://docs.slack.dev/reference/methods/<method>,
# "Rate limits") and the tiers of https://docs.slack.dev/apis/web-api/rate-limits (formerly
# api.slack.com/apis/rate-limits): Tier 1 "1+ per minute", Tier 2 "20+", Tier 3 "50+", Tier 4
# "100+"; limits are "per API method per app per workspace", "evaluated per minute", with bursts
# tolerated, so each method gets a token bucket holding one minute's worth (the worst reading of
# "+": exactly the stated figure).
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "apps.connections.open": 1,
    "usergroups.users.list": 2, "users.list": 2,
    "chat.update": 3, "chat.delete": 3, "conversations.history": 3, "conversations.replies": 3,
    "conversations.info": 3, "conversations.open": 3,
    "chat.postEphemeral": 4, "views.open": 4, "views.push": 4, "views.update": 4, "views.publish": 4,
    "users.info": 4, "conversations.members": 4, "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    # "Special" tiers whose pages give no figure beyond "Tier 4"-like generosity: modelled as Tier 4.
    "auth.test": 4, "chat.getPermalink": 4,
}
# chat.postMessage is "Special": "1 message per second per channel, short bursts >1 allowed", plus a
# workspace-wide limit the page does not quantify (https://docs.slack.dev/reference/methods/chat.postMessage).
# We allow a burst of 3 per channel and, for the workspace, "several hundred per minute" read as 300.
POST_PER_CHANNEL_PER_SECOND = 1.0
POST_PER_CHANNEL_BURST = 3
POST_WORKSPACE_PER_MINUTE = 300


@dataclass
class Latency:
    """Delay before the local Slack answers a call: lognormal(median, p99) capped at `tail`, and
    `tail_share` of calls at `tail` exactly. See the module docstring."""

    median: float = 0.120
    p99: float = 1.5
    tail_share: float = 0.01
    tail: float = 4.0
    seed: int = 0
    _dice: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._dice = random.Random(self.seed)

    @property
    def sigma(self) -> float:
        return math.log(self.p99 / self.median) / NormalDist().inv_cdf(0.99)

    def draw(self) -> float:
        """Seconds to wait before answering the next call."""
        if self._dice.random() < self.tail_share:
            return self.tail
        return min(self.tail, self._dice.lognormvariate(math.log(self.median), self.sigma))


class SlackLatency:
    """Mixed into LocalSlack (uses its _lock and set_rate_limit)."""

    latency: Latency | None = None

    def set_latency(self, latency: Latency | None) -> None:
        """Answer every Web API call and response_url post after latency.draw() seconds (None: at once)."""
        with self._lock:
            self.latency = latency

    def _draw_delay(self) -> float:
        with self._lock:
            return self.latency.draw() if self.latency is not None else 0.0

    def apply_slack_tiers(self) -> None:
        """Slack's per-method rate limits (see METHOD_TIERS): over them, HTTP 429 + Retry-After."""
        for method, tier in METHOD_TIERS.items():
            per_minute = TIER_PER_MINUTE[tier]
            self.set_rate_limit(method, per_minute=per_minute, burst=per_minute)
        self.set_rate_limit("chat.postMessage", per_second=POST_PER_CHANNEL_PER_SECOND, burst=POST_PER_CHANNEL_BURST,
                            per_channel=True)
        self.set_rate_limit("chat.postMessage", per_minute=POST_WORKSPACE_PER_MINUTE, burst=POST_WORKSPACE_PER_MINUTE)
