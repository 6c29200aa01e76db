"""LocalSlack's faults on demand: failures before or after the work (`fail_next`) and rate limits.

Slack's own docs describe the refusals (HTTP 429 + Retry-After, 5xx, API errors:
https://docs.slack.dev/apis/web-api/rate-limits). They say nothing of a reply lost after the
work was done; any network between the app and Slack can lose one (a reset, a gateway error
page, a body cut short, an answer after the client gave up), the client cannot tell it from a
refusal, and chat.postMessage takes no idempotency key to make a repeat harmless
(https://github.com/slackapi/slack-api-specs/issues/10). So, modelling the worst plausible case,
the local Slack produces each of them for any method.
"""

from __future__ import annotations

import math
import socket
import struct
from collections import deque

from aiohttp import web

from .records import _Bucket, _Failure, _Limit, _Reply


def failed_reply(failure: _Failure) -> _Reply | None:
    """The answer a queued failure gives instead of the method's own (None: a delay alone)."""
    if failure.fault == "reset":
        return _Reply(None, None, fault="reset")
    if failure.status == 429:
        retry_after = failure.retry_after if failure.retry_after is not None else 1
        return _Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(math.ceil(retry_after))})
    if failure.status in (502, 504):  # a gateway in front of Slack answers with its own page
        title = {502: "Bad Gateway", 504: "Gateway Timeout"}[failure.status]
        return _Reply(failure.status, f"<html><body><h1>{failure.status} {title}</h1></body></html>")
    if failure.status is not None and failure.status >= 500:
        default = "service_unavailable" if failure.status == 503 else "fatal_error"
        return _Reply(failure.status, {"ok": False, "error": failure.error or default})
    if failure.error:
        return _Reply(failure.status or 200, {"ok": False, "error": failure.error})
    return None


def reset_connection(request: web.Request) -> None:
    """Close the connection with a TCP reset (SO_LINGER 0), as a dying proxy or Slack host would."""
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if request.transport is not None:
        request.transport.abort()


class FaultInjection:
    """Mixed into LocalSlack (uses its _lock, clock, _failures and _limits)."""

    def fail_next(
        self,
        method: str,
        times: int = 1,
        status: int | None = None,
        error: str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        *,
        when: str = "before",
        fault: str | None = None,
        chance: float = 1.0,
    ) -> None:
        """Makes the next `times` calls of `method` (any Web API method) fail, then it recovers.
        With chance < 1 each call is hit with that chance (seeded dice), until `times` were hit.

        when="before" (the default): Slack refused the call and did nothing —
        - status 500/503 (the default when nothing else is given): that HTTP status with
          {"ok": false, "error": error or "fatal_error"/"service_unavailable"}; 502/504 answer a
          gateway's HTML page instead of JSON
        - status 429: HTTP 429, `Retry-After: <retry_after or 1>`, {"ok": false, "error": "ratelimited"};
          Slack documents a rate-limited call as not processed
          (https://docs.slack.dev/apis/web-api/rate-limits)
        - error="channel_not_found" (status defaults to 200): that API error, nothing done
        - fault="reset": the connection is reset without any HTTP answer
        - delay=seconds: sleep first (to make a client time out); alone, the call is then done and
          answered late; with a fault/status, the failure comes after the delay, and nothing is done.

        when="after": Slack did the work (the message is posted, the view opened), then the reply
        is lost — status 5xx (a gateway or Slack failing after the work), fault="reset" (the
        connection drops), fault="truncate" (the reply's body stops halfway: the headers promise
        more bytes than arrive), or delay=seconds alone (the reply comes after the client gave up).
        Slack's docs do not say how often this happens; the client cannot tell these from a
        refusal, so the local Slack can produce each of them for any method.

        Several fail_next calls for one method queue up in order.
        """
        if when not in ("before", "after") or fault not in (None, "reset", "truncate"):
            raise ValueError(f"when must be before/after and fault reset/truncate, not {when!r}/{fault!r}")
        if when == "after" and (error is not None or status == 429):
            raise ValueError("an API error or a 429 means Slack refused the call: use when='before'")
        if fault == "truncate" and when != "after":
            raise ValueError("a truncated reply is the reply of work done: use when='after'")
        if status is None and error is None and delay is None and fault is None:
            status = 500
        if status is None and error is not None:
            status = 200
        with self._lock:
            self._failures.setdefault(method, deque()).append(
                _Failure(status=status, error=error, retry_after=retry_after, delay=delay, remaining=times,
                         when=when, fault=fault, chance=chance)
            )

    def clear_failures(self) -> None:
        """Forgets failures queued by fail_next that have not happened yet."""
        with self._lock:
            self._failures.clear()

    def set_rate_limit(
        self,
        method: str,
        per_minute: float | None = None,
        per_second: float | None = None,
        burst: int = 1,
        per_channel: bool = False,
    ) -> None:
        """A token bucket for a method: `burst` tokens, refilled at the given rate. When it is
        empty the call answers HTTP 429 with Retry-After = seconds until the next token
        (rounded up, at least 1). per_channel=True keeps one bucket per `channel` argument;
        a method may have both a workspace-wide and a per-channel limit (set each once)."""
        if (per_minute is None) == (per_second is None):
            raise ValueError("give exactly one of per_minute and per_second")
        rate = per_second if per_second is not None else per_minute / 60.0  # type: ignore[operator]
        with self._lock:
            self._limits[(method, per_channel)] = _Limit(rate=rate, burst=burst)

    def clear_rate_limits(self) -> None:
        with self._lock:
            self._limits.clear()

    def _take_failure(self, method: str, when: str) -> _Failure | None:
        """The queued failure that hits this call at this point ("before" the work, or "after" it
        was done), if any: one queued for after waits for a call that does the work."""
        with self._lock:
            queue = self._failures.get(method)
            if not queue or queue[0].when != when:
                return None
            failure = queue[0]
            if failure.chance < 1 and self._fault_dice.random() >= failure.chance:
                return None
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.popleft()
            return failure

    def _rate_limited(self, method: str, args: dict) -> int | None:
        """Consumes a token from each bucket that applies; returns Retry-After when one is empty."""
        with self._lock:
            now = self.clock()
            buckets = []
            for (limit_method, per_channel), limit in self._limits.items():
                if limit_method != method:
                    continue
                key = str(args.get("channel") or args.get("channel_id") or "") if per_channel else ""
                bucket = limit.buckets.get(key)
                if bucket is None:
                    bucket = limit.buckets[key] = _Bucket(limit.burst, limit.rate, float(limit.burst), now)
                bucket.refill(now)
                buckets.append(bucket)
            empty = [b for b in buckets if b.tokens < 1]
            if empty:
                return max(1, math.ceil(max(b.wait() for b in empty)))
            for bucket in buckets:
                bucket.tokens -= 1
            return None
