"""SlackSender: delivers signed payloads to a running app over HTTP, the way Slack does.

- slash commands: form-encoded fields
- interactions (block_actions, view_submission, shortcuts...): form-encoded `payload=<json>`
- events: a JSON body; retries carry X-Slack-Retry-Num / X-Slack-Retry-Reason

Each request is signed with v0 HMAC-SHA256 over "v0:{timestamp}:{body}", using
slack_sdk's SignatureVerifier.generate_signature, i.e. exactly what the app's verifier checks.
`post()` is the low-level door for forged signatures and stale timestamps; `replay()` delivers an
earlier request again, unchanged.

Only the standard library (urllib) is used as the HTTP client, with proxies disabled.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk.signature import SignatureVerifier

from . import payloads

if TYPE_CHECKING:
    from .server import LocalSlack


@dataclass
class Response:
    status: int
    headers: dict
    text: str
    sent: Any = field(default=None, repr=False)  # the payload dict that was sent, if any
    raw: bytes = field(default=b"", repr=False)  # the signed body exactly as it was sent ...
    signed_headers: dict = field(default_factory=dict, repr=False)  # ... with its timestamp and signature

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SlackSender:
    def __init__(
        self, app_url: str, signing_secret: str, slack: LocalSlack | None = None, timeout: float = 10.0
    ):
        """app_url: the app's request URL, e.g. "http://127.0.0.1:3000/slack/events"."""
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.slack = slack
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)
        # An empty ProxyHandler: never send 127.0.0.1 traffic through an HTTP(S)_PROXY.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- low level -----------------------------------------------------------------------

    def post(
        self,
        body: bytes | str,
        content_type: str,
        timestamp: int | str | None = None,
        signature: str | None = None,
        headers: dict | None = None,
        sent: Any = None,
    ) -> Response:
        """POSTs a body signed for `timestamp` (default: now). Pass signature= to forge one."""
        raw = body.encode() if isinstance(body, str) else body
        ts = str(int(time.time()) if timestamp is None else timestamp)
        if signature is None:
            signature = self._verifier.generate_signature(timestamp=ts, body=raw)
        request_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        request_headers.update(headers or {})
        request = urllib.request.Request(self.app_url, data=raw, headers=request_headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                return Response(resp.status, dict(resp.headers), resp.read().decode(), sent, raw, request_headers)
        except urllib.error.HTTPError as err:  # 4xx/5xx still carry an answer
            return Response(err.code, dict(err.headers), err.read().decode(), sent, raw, request_headers)

    def replay(self, earlier: Response) -> Response:
        """Deliver an earlier request again, byte for byte: same body, timestamp and signature.

        The signature stays valid for the 5 minutes Slack's verification allows
        (https://docs.slack.dev/authentication/verifying-requests-from-slack), so Slack
        delivering a payload twice, or anyone who captured it, gets it past the app's verifier.
        """
        headers = {k: v for k, v in earlier.signed_headers.items() if k != "Content-Type"}
        return self.post(earlier.raw, earlier.signed_headers["Content-Type"],
                         timestamp=earlier.signed_headers["X-Slack-Request-Timestamp"],
                         signature=earlier.signed_headers["X-Slack-Signature"], headers=headers, sent=earlier.sent)

    def post_form(self, fields: dict, headers: dict | None = None, sent: Any = None) -> Response:
        body = urllib.parse.urlencode(fields)
        return self.post(body, "application/x-www-form-urlencoded", headers=headers, sent=sent)

    def interaction(self, payload: dict) -> Response:
        """Any interaction payload, sent as form-encoded payload=<json>."""
        return self.post_form({"payload": json.dumps(payload)}, sent=payload)

    # -- what Slack sends ----------------------------------------------------------------

    def command(
        self,
        command: str,
        text: str = "",
        user_id: str = payloads.DEFAULT_USER,
        channel_id: str = payloads.DEFAULT_CHANNEL,
        **fields: Any,
    ) -> Response:
        form = payloads.slash_command(command, text, user_id, channel_id, slack=self.slack, **fields)
        return self.post_form(form, sent=form)

    def action(self, user_id: str = payloads.DEFAULT_USER, actions: list[dict] | None = None, **kwargs: Any):
        """A block_actions click; see payloads.block_actions for the arguments."""
        return self.interaction(payloads.block_actions(user_id, actions, slack=self.slack, **kwargs))

    def view_submission(
        self, user_id: str, view: dict, values: dict | None = None, **kwargs: Any
    ) -> Response:
        return self.interaction(payloads.view_submission(user_id, view, values, slack=self.slack, **kwargs))

    def view_closed(self, user_id: str, view: dict, **kwargs: Any) -> Response:
        return self.interaction(payloads.view_closed(user_id, view, slack=self.slack, **kwargs))

    def shortcut(self, callback_id: str, user_id: str = payloads.DEFAULT_USER, **kwargs: Any) -> Response:
        return self.interaction(payloads.shortcut(callback_id, user_id, slack=self.slack, **kwargs))

    def message_action(
        self,
        callback_id: str,
        message: dict,
        channel_id: str | None = None,
        user_id: str = payloads.DEFAULT_USER,
        **kwargs: Any,
    ) -> Response:
        payload = payloads.message_action(
            callback_id, message, channel_id, user_id, slack=self.slack, **kwargs
        )
        return self.interaction(payload)

    def event(
        self,
        event: dict,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        **kwargs: Any,
    ) -> Response:
        """An Events API delivery. For a retry, reuse the first delivery's event_id and pass
        retry_num=1, 2, ... (Slack retries immediately, after 1 min, after 5 min)."""
        body = payloads.event_callback(event, event_id, slack=self.slack, **kwargs)
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self.post(json.dumps(body), "application/json", headers=headers, sent=body)
