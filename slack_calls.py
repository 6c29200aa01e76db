"""How a Web API call is made once: which calls slack_sdk may repeat at once, and its 429 gate.

delivery.py sends everything through `WebApi.call`; the outbox does the long-term retrying.
"""

from __future__ import annotations

import http.client
import json
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import SlackResponse

import metrics

# Which calls slack_sdk may repeat at once inside one call, and which it must not.
#
# When a call's reply is lost (the connection reset after the request went out, a gateway's 5xx,
# a timeout, a body cut short), Slack may or may not have done the work, and the client cannot
# tell which. Repeating at once is harmless only when a second run changes nothing:
# - reads;
# - chat.update and views.publish: they set the message or the Home tab to the content given, so a
#   repeat sets the same content again (Tandem sends whole messages and views, never increments);
# - conversations.open: it answers the one DM with the user, however often it is called.
# Every other call is repeated at once only after a 429, which Slack documents as refused, not done
# (https://docs.slack.dev/apis/web-api/rate-limits). Those that create something (chat.postMessage,
# chat.postEphemeral, files_upload_v2 whose files.completeUploadExternal shares the file, a
# response_url post) would create it twice: Slack takes no idempotency key for them (asked for since
# 2018: https://github.com/slackapi/slack-api-specs/issues/10); a views.open/push/update repeated after the first one
# worked is refused (trigger_id used, hash changed) and would hide that it worked. A post queued in
# the outbox is retried later by the outbox, which first looks for the earlier attempt (_find_post).
REPEATABLE = frozenset({
    "auth.test", "chat.getPermalink", "conversations.history", "files.info", "conversations.info", "conversations.members",
    "conversations.replies", "usergroups.users.list", "users.info",  # reads
    "chat.update", "views.publish", "conversations.open",  # the same result however often
})


class ReplyLost(SlackClientError):
    """Slack's reply was cut short or unreadable: like a reset, the call may or may not have been done."""


class RateLimitGate(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, shared by all the workers of one client: a 429 closes its method
    to every worker for Retry-After seconds, and they all resume when it ends.

    The stock handler sleeps only the thread that met the 429, plus up to a second of jitter to
    spread many clients apart. Tandem is one client per workspace: the other workers would keep
    calling, meet 429s of their own and each sleep from a later moment, and the jitter is time
    the method could have been sending (Slack refills its bucket while we wait).
    """

    def __init__(self, max_retry_count: int = 3):
        super().__init__(max_retry_count=max_retry_count)
        self._closed_until: dict[str, float] = {}  # Web API method -> time.monotonic() it reopens
        self._lock = threading.Lock()

    def wait_open(self, method: str) -> None:
        """Before calling `method`: wait while a 429 has it closed."""
        delay = self._closed_until.get(method, 0.0) - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error
        state.next_attempt_requested = True
        retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        method = request.url.rsplit("/", 1)[-1]
        metrics.SLACK_CALLS.labels(method, "429").inc()  # refused; slack_sdk waits and asks again
        with self._lock:  # two workers' 429s: the later reopening wins, as Slack asked of each
            reopens = time.monotonic() + float(retry_after[0])
            closed_until = self._closed_until.get(method, 0.0)
            self._closed_until[method] = max(closed_until, reopens)
            # the time the method stays closed beyond what an earlier 429 had closed already
            metrics.RATE_LIMITED_SECONDS.labels(method).inc(max(0.0, reopens - max(closed_until, time.monotonic())))
        self.wait_open(method)
        state.increment_current_attempt()


class WebApi:
    """Two slack_sdk clients sharing one RateLimitGate: REPEATABLE calls are repeated at once after
    a connection error or a 500/503 (slack_sdk's handlers), the others only after a 429."""

    def __init__(self, *, token: str, api_url: str, timeout: float):
        self.rate_limits = RateLimitGate()
        self.repeating = WebClient(token=token, base_url=api_url, timeout=timeout, retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2), self.rate_limits, ServerErrorRetryHandler(max_retry_count=2),
        ])
        self.once = WebClient(token=token, base_url=api_url, timeout=timeout, retry_handlers=[self.rate_limits])

    def call(self, method: str, **args) -> SlackResponse:
        self.rate_limits.wait_open(method)
        client = self.repeating if method in REPEATABLE else self.once
        error: BaseException | None = None
        try:
            return getattr(client, method.replace(".", "_"))(**args)
        except (http.client.HTTPException, json.JSONDecodeError) as exc:  # slack_sdk lets these through
            error = exc
            raise ReplyLost(f"{method}: {exc!r}") from exc
        except BaseException as exc:
            error = exc
            raise
        finally:
            metrics.SLACK_CALLS.labels(method, metrics.slack_result(error)).inc()
