"""The one path out to Slack.

Every Web API call Tandem makes goes through `Delivery`: immediate calls that must happen
inside a request (views.open with a 3-second trigger_id, users.info) via `call()`, and
notifications via the outbox: `queue()` writes a row in the caller's transaction, and a
worker thread sends it after commit, records the channel and `ts` Slack returned, and
retries with back-off when Slack or the network fails, so nothing queued is lost.

slack_sdk's retry handlers do the short-term retrying, for the calls that are safe to repeat
(slack_calls.REPEATABLE); the outbox does the long-term kind (minutes, restarts). A post that is
retried is first looked for in Slack by its key (message metadata), so a post that arrived
after all is recorded, not repeated.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

import logs
import metrics
from clock import utcnow
from models import outbox
from models.db import session_scope
from slack_calls import RateLimitGate, WebApi

log = logging.getLogger("tandem.delivery")

# API errors that another attempt cannot fix: the message is marked failed and logged.
PERMANENT_ERRORS = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long", "no_text",
    "user_not_found", "cant_update_message", "message_not_found", "missing_scope", "not_authed",
    "invalid_arguments", "restricted_action",
}
# Slack refused the bot token itself: every call would fail the same way, so nothing is sent (and no
# message is failed) until it works again; this is said once, loudly (log, metric, /readyz).
TOKEN_REFUSED = {"token_revoked", "invalid_auth", "account_inactive"}
TOKEN_RECHECK_SECONDS = 60.0  # while refused, auth.test this often to notice a token that works again
# References to an earlier message by its key, resolved when sending (it may not be sent yet):
REF = "$ref"              # edit it: fills channel + ts (chat.update)
THREAD = "$thread"        # reply in its thread: fills channel + thread_ts
PERMALINK = "$permalink"  # link to it: "$PERMALINK" anywhere in the args becomes its permalink
PERMALINK_TOKEN = "$PERMALINK"
HOME = "$home"            # views.publish of this user's Home tab, rendered when sent (see `late`)
# Every post carries its outbox key as message metadata, so a retry can find an earlier attempt
# that reached Slack after all, instead of posting twice (chat.postMessage has no idempotency key).
OUTBOX_EVENT = "tandem_outbox"
LOOKUP_PAGE = 200  # messages per conversations.history/replies page (Slack recommends 100-200)
CLOCK_SKEW = 60  # seconds: Slack's clock may be behind ours; look that much before the first attempt

class Delivery:
    def __init__(self, *, token: str, api_url: str, engine: Engine, timeout: int = 10,
                 sweep_seconds: float = 15.0, workers: int = 4):
        self.web_api = WebApi(token=token, api_url=api_url, timeout=timeout)
        self.webhooks_timeout = timeout
        self.engine = engine
        self.sweep_seconds = sweep_seconds
        self._wakes: list[threading.Event] = []  # one per worker: kick() wakes them all
        self._stop = threading.Event()
        self.workers = workers
        self._threads: list[threading.Thread] = []
        # Arguments made when a message is sent, from what the database holds then: a marker in the
        # queued args (HOME) → f(team_id, its value) giving the real ones. Handlers register them.
        self.late: dict[str, Callable[[str, Any], dict]] = {}
        self.token_refused: str | None = None  # Slack's error while it refuses the bot token
        self._token_checked = 0.0  # time.monotonic() of the last auth.test while refused

    # -- immediate calls -------------------------------------------------------------------
    def call(self, method: str, **args) -> SlackResponse:
        """Call a Web API method now. Raises SlackApiError on an error answer, SlackClientError or
        OSError when no complete answer came (then Slack may or may not have done it)."""
        try:
            return self.web_api.call(method, **args)
        except SlackApiError as exc:
            if exc.response.get("error") in TOKEN_REFUSED:
                self._refused(exc.response.get("error"))
            raise

    def _refused(self, error: str) -> None:
        if self.token_refused is None:
            self.token_refused = error
            self._token_checked = time.monotonic()
            log.critical("Slack refuses the bot token (%s): nothing is sent until it works again; the queued "
                         "messages wait. Reinstall the app or set a new SLACK_BOT_TOKEN.", error)
            metrics.TOKEN_REFUSED.set(1)

    def recheck_token(self) -> bool:
        """While the token is refused: ask Slack again (auth.test) at most every TOKEN_RECHECK_SECONDS.
        True when it works again (then sending resumes)."""
        if self.token_refused is None:
            return True
        if time.monotonic() - self._token_checked < TOKEN_RECHECK_SECONDS:
            return False
        self._token_checked = time.monotonic()
        try:
            self.web_api.call("auth.test")
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.debug("the bot token is still refused: %r", exc)
            return False
        log.warning("Slack accepts the bot token again; sending the queued messages")
        self.token_refused = None
        metrics.TOKEN_REFUSED.set(0)
        self.kick()
        return True

    def respond(self, response_url: str, payload: dict) -> int:
        """Post to an interaction's response_url (Slack allows 5 posts in 30 minutes). It posts a new
        message, so only a 429 is repeated at once (see slack_calls.REPEATABLE)."""
        webhook = WebhookClient(response_url, timeout=self.webhooks_timeout, retry_handlers=[RateLimitGate()])
        return webhook.send_dict(payload).status_code

    # -- the outbox ------------------------------------------------------------------------
    def queue(self, session: Session, *, key: str, team_id: str, method: str, now: datetime, **args) -> bool:
        """Queue a call in the caller's transaction; call `kick()` after commit. False if queued before.

        A message that refers to another ($ref, $thread, $permalink) waits in that message's lane,
        so an edit never overtakes the post it edits, nor an older edit.
        """
        return outbox.queue_message(session, key=key, team_id=team_id, method=method, args=args, now=now,
                                    lane=self._lane(key, args))

    def queue_many(self, session: Session, messages: list[dict], *, now: datetime) -> set[str]:
        """`queue` for a fan-out, in one statement: each dict holds key, team_id, method and the call's
        arguments. Returns the keys queued now."""
        rows = []
        for message in messages:
            args = dict(message)
            key, team_id, method = args.pop("key"), args.pop("team_id"), args.pop("method")
            rows.append({"key": key, "team_id": team_id, "method": method, "args": args,
                         "lane": self._lane(key, args)})
        return outbox.queue_messages(session, rows, now=now)

    @staticmethod
    def _lane(key: str, args: dict) -> str:
        return args.get(REF) or args.get(THREAD) or args.get(PERMALINK) or key

    def kick(self) -> None:
        """Wake the workers: something was queued (or a lane moved on)."""
        for wake in self._wakes:
            wake.set()

    def drain(self, *, now: datetime | None = None, limit: int = 500, worker: int = 0, workers: int = 1) -> int:
        """Send what is due. Returns how many messages were sent. Safe to run on several replicas."""
        sent = 0
        while self.token_refused is None:
            moment = now or utcnow()
            with session_scope(self.engine) as session:
                ids = outbox.due_ids(session, now=moment, limit=limit, worker=worker, workers=workers)
            if not ids:
                return sent
            progressed = False
            for message_id in ids:
                if self._stop.is_set() or self.token_refused:
                    return sent
                outcome = self._send_one(message_id, now=now)
                sent += outcome == "sent"
                progressed = progressed or outcome == "sent"
            if not progressed:  # nothing more can go now (the rest waits for a lane or a retry time)
                return sent
        return sent  # Slack refuses the token: nothing goes until recheck_token() sees it work

    def _send_one(self, message_id: int, *, now: datetime | None) -> str:
        with logs.bound(outbox_key=None, team=None):
            return self._send_claimed(message_id, now=now)

    def _send_claimed(self, message_id: int, *, now: datetime | None) -> str:
        with session_scope(self.engine) as session:
            row = outbox.claim(session, message_id=message_id, now=now or utcnow())
            if row is None:
                return "taken"
            args = dict(row.args)
            refs = {name: args.pop(name) for name in (REF, THREAD, PERMALINK) if name in args}
            resolved = {name: outbox.message_ref(session, key=key) for name, key in refs.items()}
            if any(ref is None for ref in resolved.values()):  # not sent yet: try again shortly
                outbox.mark_retry(session, message_id=message_id, attempts=row.attempts,
                                  error="waiting for the referenced message", now=now or utcnow())
                return "waiting"
            method, attempts, key, lane, team_id = row.method, row.attempts, row.key, row.lane, row.team_id
            logs.bind(outbox_key=key, team=team_id)  # reset by _send_one
            first_attempt = row.first_attempt_at
        try:
            args = self._resolve(args, resolved)
            for marker in [name for name in args if name in self.late]:
                args.update(self.late[marker](team_id, args.pop(marker)))
            posted = None
            if method == "chat.postMessage":
                args.setdefault("metadata", {"event_type": OUTBOX_EVENT, "event_payload": {"key": key}})
                if attempts > 1:  # an earlier attempt may have reached Slack (a lost reply, a crash)
                    posted = self._find_post(args, key=key, since=first_attempt)
            response = posted or self.call(method, **args)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            with session_scope(self.engine) as session:
                if error in TOKEN_REFUSED:  # not this message's fault: it waits for a working token
                    outbox.release(session, message_id=message_id, error=error)
                elif error in PERMANENT_ERRORS:
                    log.error("outbox %s (%s) failed for good: %s", key, method, error)
                    outbox.mark_failed(session, message_id=message_id, error=error)
                else:
                    self._log_retry(key, method, error, attempts)
                    outbox.mark_retry(session, message_id=message_id, attempts=attempts, error=error,
                                      now=now or utcnow())
            return "error"
        except (SlackClientError, OSError) as exc:  # no (complete) answer: retry later, looking first
            with session_scope(self.engine) as session:
                outbox.mark_retry(session, message_id=message_id, attempts=attempts, error=repr(exc),
                                  now=now or utcnow())
            self._log_retry(key, method, repr(exc), attempts)
            return "error"
        with session_scope(self.engine) as session:
            outbox.mark_sent(session, message_id=message_id, channel=response.get("channel"),
                             ts=response.get("ts"), now=now or utcnow())
            followers = outbox.has_followers(session, lane=lane, after_id=message_id)
        if followers:
            self.kick()  # what waited in this lane may go now, perhaps on another worker
        return "sent"

    @staticmethod
    def _log_retry(key: str, method: str, error: str, attempts: int) -> None:
        if attempts >= outbox.MAX_ATTEMPTS:  # mark_retry gives up on it now
            log.error("outbox %s (%s) failed for good after %d attempts: %s", key, method, attempts, error)
        else:
            log.warning("outbox %s (%s) will be retried: %s", key, method, error)

    def _find_post(self, args: dict, *, key: str, since: datetime) -> dict | None:
        """The message an earlier attempt posted under `key`, found by its metadata in the
        conversation (or thread), paging back to the first attempt's time; None when there is none.

        Raises when Slack cannot say now (a 429, a 5xx, no answer): the outbox retries later. When
        the lookup is refused for good (a missing *:history scope, say), it posts again: a
        possible duplicate beats a lost message.
        """
        channel = args["channel"]
        try:
            if channel[:1] in ("U", "W"):  # a DM addressed to the user: history needs the DM's id
                channel = self.call("conversations.open", users=channel)["channel"]["id"]
            method, where = ("conversations.replies", {"ts": args["thread_ts"]}) if args.get("thread_ts") \
                else ("conversations.history", {})
            query = {"channel": channel, "oldest": f"{since.timestamp() - CLOCK_SKEW:.6f}",
                     "include_all_metadata": True, "limit": LOOKUP_PAGE, **where}
            while True:
                page = self.call(method, **query)
                for message in page.get("messages") or []:
                    if ((message.get("metadata") or {}).get("event_payload") or {}).get("key") == key:
                        log.info("outbox %s: an earlier attempt was posted (%s); recording it", key, message["ts"])
                        return {"channel": channel, "ts": message["ts"]}
                query["cursor"] = (page.get("response_metadata") or {}).get("next_cursor")
                if not query["cursor"]:
                    return None
        except SlackApiError as exc:
            if exc.response.status_code != 200:  # 429, 5xx, a gateway's page: Slack cannot say now
                raise
            log.warning("outbox %s: cannot look for an earlier post (%s); posting", key, exc.response.get("error"))
            return None

    def _resolve(self, args: dict, resolved: dict) -> dict:
        if REF in resolved:
            args["channel"], args["ts"] = resolved[REF]
        if THREAD in resolved:
            args["channel"], args["thread_ts"] = resolved[THREAD]
        if PERMALINK in resolved:
            channel, ts = resolved[PERMALINK]
            link = self.call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"]
            args = json.loads(json.dumps(args).replace(PERMALINK_TOKEN, link))
        return args

    # -- the worker ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers: several, because Slack answers each call in ~100 ms and a 429 makes
        one worker sleep Retry-After plus slack_sdk's jitter; the others keep the queue moving."""
        if not self._threads:
            self._stop.clear()
            self._wakes = [threading.Event() for _ in range(self.workers)]
            self._threads = [
                threading.Thread(target=self._run, args=(index,), name=f"tandem-outbox-{index}", daemon=True)
                for index in range(self.workers)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.kick()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _run(self, index: int) -> None:
        while not self._stop.is_set():
            self._wakes[index].wait(self.sweep_seconds)
            self._wakes[index].clear()
            if index == 0 and not self.recheck_token():
                continue
            try:
                self.drain(worker=index, workers=self.workers)
            except Exception:  # keep the worker alive; the next sweep retries
                log.exception("outbox drain failed; will retry")
