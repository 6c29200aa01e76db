"""The sandbox page: GET /sandbox (plain HTML + JS from sandbox/static), and a small JSON API it uses.

    GET  /sandbox/api/state?user=U…&conv=C…[&thread=TS]   what that person sees now
    POST /sandbox/api/act   {"kind": …, "user": …, …}      what that person does
    GET  /sandbox/files/F…                                 an uploaded file (the digest chart)

Everything a person does reaches Tandem the way Slack delivers it: localslack builds the payload
(payloads.py), SlackSender signs it and POSTs it to Tandem's /slack/events, and what Tandem answers
is applied as Slack applies it (a command's ack shown as an ephemeral message, a submission's
response_action on the view stack, inline errors kept on the modal).
"""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import urllib.parse
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

import clock
import templates
from localslack import LocalSlack, SlackSender, payloads
from sandbox import travel
from web import read_body, send_json

STATIC = Path(__file__).resolve().parent / "static"
COMMANDS = ("/tandem", "/request", "/standup", "/approval", "/digest", "/metric")
MAX_ACT_BYTES = 256 * 1024


@cache
def words(language: str) -> dict:
    return yaml.safe_load(templates.render_text("sandbox/page.yaml.j2", language=language))


class SandboxPage:
    def __init__(self, *, slack: LocalSlack, sender: SlackSender, services, scheduler, team_id: str,
                 people: list[str], settle=None):
        self.slack, self.sender, self.services, self.scheduler = slack, sender, services, scheduler
        self.team_id, self.people, self.settle = team_id, people, settle

    async def __call__(self, scope, receive, send):
        path, method = scope["path"], scope["method"]
        if path in ("/sandbox", "/sandbox/") and method == "GET":
            await self.static(send, "index.html")
        elif path.startswith("/sandbox/static/") and method == "GET":
            await self.static(send, path.removeprefix("/sandbox/static/"))
        elif path == "/sandbox/api/state" and method == "GET":
            query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode()))
            await send_json(send, 200, await asyncio.to_thread(self.state, **{k: v for k, v in query.items()
                                                                               if k in ("user", "conv", "thread")}))
        elif path == "/sandbox/api/act" and method == "POST":
            body, _size = await read_body({}, receive, MAX_ACT_BYTES)
            try:
                act = json.loads(body or b"")
            except ValueError:
                act = None
            if not isinstance(act, dict) or act.get("user") not in self.people:
                await send_json(send, 400, {"error": "bad_act"})
                return
            try:
                await send_json(send, 200, await asyncio.to_thread(self.act, act))
            except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a field missing or of the wrong kind
                await send_json(send, 400, {"error": "bad_act", "detail": repr(exc)[:200]})
        elif path.startswith("/sandbox/files/") and method == "GET":
            await self.file(send, path.removeprefix("/sandbox/files/"))
        else:
            await send_json(send, 404, {"error": "not_found"})

    async def static(self, send, name: str) -> None:
        target = (STATIC / name).resolve()
        if STATIC not in target.parents or not target.is_file():
            await send_json(send, 404, {"error": "not_found"})
            return
        await _send_bytes(send, target.read_bytes(), mimetypes.guess_type(name)[0] or "application/octet-stream")

    async def file(self, send, file_id: str) -> None:
        found = next((f for f in self.slack.files if f.id == file_id and f.content), None)
        if found is None:
            await send_json(send, 404, {"error": "file_not_found"})
            return
        await _send_bytes(send, found.content, mimetypes.guess_type(found.filename or "")[0] or "application/octet-stream")

    # -- what a person sees -------------------------------------------------------------------
    def language(self, user: str) -> str:
        return self.services.language_of(self.team_id, user)

    def state(self, user: str = "", conv: str = "", thread: str = "") -> dict:
        user = user if user in self.people else self.people[0]
        slack = self.slack
        with slack._lock:  # one consistent picture
            slack._open_dm(user)  # the app's Messages tab exists for everyone
            people = [slack._user_object(slack._users[p], include_locale=True) for p in self.people]
            channels = [{"id": c["id"], "name": c["name"]} for c in slack._convs.values()
                        if not c["is_im"] and user in c["members"]]
            every_channel = [{"id": c["id"], "name": c["name"]} for c in slack._convs.values() if not c["is_im"]]
        dm = slack.dm_channel_of(user) or f"D{user}"
        conv = conv or (channels[0]["id"] if channels else dm)
        messages = slack.messages(dm if conv == dm else conv) if conv != "home" else []
        top = [m for m in messages if not m["thread_ts"] or m["thread_ts"] == m["ts"]]
        replies = [m for m in messages if thread and m["thread_ts"] == thread and m["ts"] != thread]
        ephemerals = [e for e in slack.ephemerals if e["user"] == user and e["channel"] in (conv, dm if conv == dm else None)]
        views = slack.views.get(user, {"modals": [], "home": None})
        language = self.language(user)
        now = clock.utcnow()
        return {"user": user, "language": language, "words": words(language), "people": people,
                "channels": channels, "all_channels": every_channel, "dm": dm, "conv": conv, "messages": top, "thread": thread,
                "replies": replies, "ephemerals": ephemerals, "modals": views["modals"], "home": views["home"],
                "now": now.isoformat(), "now_epoch": now.timestamp()}

    # -- what a person does -------------------------------------------------------------------
    def act(self, act: dict) -> dict:
        kind, user = act.get("kind"), act["user"]
        handler = getattr(self, f"act_{kind}", None)
        if handler is None:
            return {"error": "unknown_act"}
        result = handler(user, act) or {}
        if self.settle is not None:
            self.settle()
        return result

    def act_send(self, user: str, act: dict) -> dict:
        """The composer: a slash command, or a message in the channel or thread."""
        text, conv = (act.get("text") or "").strip(), act.get("conv") or ""
        if not text:
            return {}
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command not in COMMANDS:
                self.slack.apply_ack(user_id=user, channel_id=conv,
                                     body={"text": f"{command} {words(self.language(user))['no_command']}"})
                return {}
            response = self.sender.command(command, rest.strip(), user_id=user, channel_id=conv)
            body = response.json() if response.ok and response.text.strip() else None
            if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
                self.slack.apply_ack(user_id=user, channel_id=conv, body=body)
            return {"status": response.status}
        message = self.slack.add_message(conv, text, user=user, thread_ts=act.get("thread") or None)
        event = payloads.message_event(conv, text, user=user, ts=message["ts"], thread_ts=act.get("thread") or None)
        return {"status": self.sender.event(event).status}

    def act_action(self, user: str, act: dict) -> dict:
        """A click, a choice or a date on a message (ephemeral or not) or in a view (modal, Home)."""
        entry = payloads.action(**act["action"])
        view_id = act.get("view_id")
        if view_id:
            view = self.slack.view(view_id)
            if view is None:
                return {"error": "view_gone"}
            payload = payloads.block_actions(user, [entry], view=view, state=act.get("state") or {}, slack=self.slack)
        elif act.get("ephemeral"):
            conv, ts = act["conv"], act["ts"]
            payload = payloads.block_actions(
                user, [entry], channel_id=conv, slack=self.slack,
                container={"type": "message", "message_ts": ts, "channel_id": conv, "is_ephemeral": True},
                response_url=self.slack.new_response_url(channel_id=conv, user_id=user, message_ts=ts))
        else:
            message = next((m for m in self.slack.messages(act["conv"]) if m["ts"] == act["ts"]), None)
            if message is None:
                return {"error": "message_gone"}
            payload = payloads.block_actions(user, [entry], message=message, channel_id=act["conv"], slack=self.slack)
        return {"status": self.sender.interaction(payload).status}

    def act_submit(self, user: str, act: dict) -> dict:
        view = self.slack.view(act["view_id"])
        if view is None:
            return {"error": "view_gone"}
        response = self.sender.view_submission(user, view, self.uploaded(act.get("state") or {}))
        body = response.json() if response.ok and response.text.strip() else None
        errors = self.slack.apply_view_response(view["id"], body if isinstance(body, dict) else None) if response.ok else None
        return {"status": response.status, "errors": errors or {}}

    def uploaded(self, state: dict) -> dict:
        """A file_input's files, picked in the browser, become files of the local Slack (as Slack
        stores a file a person uploads in a modal before the submission reaches the app)."""
        for actions in state.values():
            for value in actions.values():
                if isinstance(value, dict) and value.get("type") == "file_input":
                    value["files"] = [self.slack.add_file(f["upload"]["name"], base64.b64decode(f["upload"]["base64"]),
                                                          filetype=f["upload"]["name"].rsplit(".", 1)[-1])
                                      for f in value.get("files") or [] if "upload" in f]
        return state

    def act_close(self, user: str, act: dict) -> dict:
        view = self.slack.view(act["view_id"])
        if view is None:
            return {}
        everything = act.get("all", False)
        if everything:
            self.slack.close_modals(user)
        else:
            self.slack.close_view(user, view["id"])
        if view.get("notify_on_close"):
            self.sender.view_closed(user, view, is_cleared=everything)
        return {}

    def act_shortcut(self, user: str, act: dict) -> dict:
        return {"status": self.sender.shortcut(act["callback_id"], user_id=user).status}

    def act_message_action(self, user: str, act: dict) -> dict:
        message = next((m for m in self.slack.messages(act["conv"]) if m["ts"] == act["ts"]), None)
        if message is None:
            return {"error": "message_gone"}
        return {"status": self.sender.message_action(act["callback_id"], message, act["conv"], user_id=user).status}

    def act_home(self, user: str, act: dict) -> dict:
        home = self.slack.views.get(user, {}).get("home")
        event = payloads.app_home_opened(user, tab="home", view=home)
        return {"status": self.sender.event(event).status}

    def act_clock(self, user: str, act: dict) -> dict:
        zone = _zone(self.slack, user)
        try:
            target = travel.parse_jump(act.get("text") or "", now=clock.utcnow(), zone=zone)
        except travel.BadJump:
            return {"error": words(self.language(user))["bad_jump"]}
        runs = travel.travel(self.scheduler, target=target, settle=self.settle)
        return {"runs": runs, "now": clock.utcnow().isoformat(), "notice": words(self.language(user))["jumped"]}


def _zone(slack: LocalSlack, user: str) -> ZoneInfo:
    with slack._lock:
        return ZoneInfo(slack._users[user]["tz"])


async def _send_bytes(send, data: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": data})
