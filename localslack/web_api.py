"""LocalSlack's Web API methods, one `_api_<method>` each (server.py says how a call reaches
them: under the state lock, answering a dict when ok or raising ApiError)."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from aiohttp import web

from templates.blockkit import check_view

# Ids of the default world (seed=True).
from .records import (
    MAX_MODAL_STACK,
    ApiError,
    UploadedFile,
    _decode_ts_cursor,
    _encode_ts_cursor,
    _truthy,
)


class WebApiMethods:
    """Mixed into LocalSlack."""

    # -- auth, chat ------------------------------------------------------------------------

    def _api_auth_test(self, args: dict) -> dict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Tandem Test",
            "user": "tandem",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"))
        if conv["is_archived"]:
            raise ApiError("is_archived")
        if self.bot_user_id not in conv["members"]:
            raise ApiError("not_in_channel")
        self._check_content(args)
        self._check_slack_files(args.get("blocks"))
        extra = {"metadata": args["metadata"]} if args.get("metadata") else {}
        msg = self._store_message(
            conv["id"],
            user=self.bot_user_id,
            text=args.get("text"),
            blocks=args.get("blocks"),
            thread_ts=args.get("thread_ts"),
            attachments=args.get("attachments"),
            extra=extra,
        )
        return {"channel": conv["id"], "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _message_for_change(self, args: dict, ts_key: str, cant: str) -> tuple[dict, dict]:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        msg = self._find_message(conv["id"], args.get(ts_key))
        if msg is None:
            raise ApiError("message_not_found")
        if msg["user"] != self.bot_user_id:
            raise ApiError(cant)
        return conv, msg

    def _api_chat_update(self, args: dict) -> dict:
        conv, msg = self._message_for_change(args, "ts", "cant_update_message")
        if all(args.get(k) is None for k in ("text", "blocks", "attachments")):
            raise ApiError("no_text")
        self._check_content(args, required=False)
        # Like Slack: a field left out keeps its previous value; blocks=[] removes the blocks.
        if args.get("text") is not None:
            msg["text"] = args["text"]
        if args.get("blocks") is not None:
            msg["blocks"] = args["blocks"]
        if args.get("attachments") is not None:
            msg["attachments"] = args["attachments"]
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"channel": conv["id"], "ts": msg["ts"], "text": msg["text"], "message": copy.deepcopy(msg)}

    def _api_chat_delete(self, args: dict) -> dict:
        conv, msg = self._message_for_change(args, "ts", "cant_delete_message")
        self._messages[conv["id"]].remove(msg)
        return {"channel": conv["id"], "ts": msg["ts"]}

    def _api_chat_postEphemeral(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"))
        if self.bot_user_id not in conv["members"]:
            raise ApiError("not_in_channel")
        user = args.get("user")
        if user not in self._users:
            raise ApiError("user_not_found")
        if user not in conv["members"]:
            raise ApiError("user_not_in_channel")
        self._check_content(args)
        ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": conv["id"],
                "user": user,
                "text": args.get("text") or "",
                "blocks": args.get("blocks") or [],
                "thread_ts": args.get("thread_ts"),
                "ts": ts,
                "via": "chat.postEphemeral",
            }
        )
        return {"message_ts": ts}

    def _api_chat_getPermalink(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        msg = self._find_message(conv["id"], args.get("message_ts"))
        if msg is None:
            raise ApiError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{conv['id']}/p{msg['ts'].replace('.', '')}"
        if msg["thread_ts"] and msg["thread_ts"] != msg["ts"]:
            link += f"?thread_ts={msg['thread_ts']}&cid={conv['id']}"
        return {"channel": conv["id"], "permalink": link}

    # -- conversations ---------------------------------------------------------------------

    def _api_conversations_open(self, args: dict) -> dict:
        if args.get("channel"):
            conv = self._resolve_channel(args["channel"], allow_user=False)
            return {"channel": {"id": conv["id"]}}
        users = [u for u in str(args.get("users") or "").split(",") if u and u != self.bot_user_id]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 1:
            # Group DMs (mpim) are not modelled.
            raise ApiError("not_supported_by_local_slack")
        user = self._users.get(users[0])
        if user is None:
            raise ApiError("user_not_found")
        if user["deleted"]:
            raise ApiError("user_disabled")
        already = self._dm_id(users[0]) in self._convs
        conv = self._open_dm(users[0])
        channel = self._channel_object(conv) if _truthy(args.get("return_im")) else {"id": conv["id"]}
        return {"no_op": already, "already_open": already, "channel": channel}

    def _api_conversations_info(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        return {"channel": self._channel_object(conv, _truthy(args.get("include_num_members")))}

    def _api_conversations_members(self, args: dict) -> dict:
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        page, cursor = self._paginate(list(conv["members"]), args, default_limit=100)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _api_conversations_history(self, args: dict) -> dict:
        """Top-level messages, newest first, between `oldest` and `latest` (exclusive unless
        `inclusive`); message metadata only with include_all_metadata, as Slack does."""
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        top = [m for m in self._messages.get(conv["id"], []) if m["thread_ts"] in (None, m["ts"])]
        page, cursor = self._history_page(list(reversed(self._between(top, args))), args, "conversations.history")
        return {
            "messages": self._shown(page, args),
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _api_conversations_replies(self, args: dict) -> dict:
        """The thread's parent (on the first page), then its replies oldest first."""
        conv = self._resolve_channel(args.get("channel"), allow_user=False)
        parent = self._find_message(conv["id"], args.get("ts"))
        if parent is None:
            raise ApiError("thread_not_found")
        replies = [m for m in self._messages[conv["id"]] if m["thread_ts"] == parent["ts"] and m is not parent]
        page, cursor = self._history_page(self._between(replies, args), args, "conversations.replies")
        return {
            "messages": self._shown(([] if args.get("cursor") else [parent]) + page, args),
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def limit_history_pages(self, most: int | None) -> None:
        """Cap conversations.history/replies pages at `most` messages whatever `limit` asks: 15 is
        what Slack allows commercially distributed non-Marketplace apps since 2025
        (https://docs.slack.dev/reference/methods/conversations.history). None: Slack's usual caps."""
        with self._lock:
            self._history_page_max = most

    def _history_page(self, messages: list[dict], args: dict, method: str) -> tuple[list[dict], str]:
        """One page of `messages` (in the order they are returned) and the cursor of the next.

        Like Slack: `limit` defaults to 100 for history and 1000 for replies and is capped at 999/1000
        (https://docs.slack.dev/apis/web-api/pagination: "the limit parameter maximum is 1000 and may
        vary per method"); the cursor names the ts of the next message ("next_ts:…"), so what is
        posted meanwhile does not shift the pages; has_more and next_cursor say whether more follows.
        """
        default, most = {"conversations.history": (100, 999), "conversations.replies": (1000, 1000)}[method]
        if self._history_page_max is not None:
            default = most = min(most, self._history_page_max)
        try:
            limit = int(args.get("limit") or 0)
        except (TypeError, ValueError) as exc:
            raise ApiError("invalid_limit") from exc
        limit = min(limit, most) if limit > 0 else default
        if args.get("cursor"):
            start = float(_decode_ts_cursor(args["cursor"]))
            newest_first = method == "conversations.history"
            messages = [m for m in messages if (float(m["ts"]) <= start if newest_first else float(m["ts"]) >= start)]
        return messages[:limit], (_encode_ts_cursor(messages[limit]["ts"]) if len(messages) > limit else "")

    @staticmethod
    def _between(messages: list[dict], args: dict) -> list[dict]:
        inclusive = _truthy(args.get("inclusive"))
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
        return [m for m in messages
                if (oldest <= float(m["ts"]) if inclusive else oldest < float(m["ts"]))
                and (float(m["ts"]) <= latest if inclusive else float(m["ts"]) < latest)]

    @staticmethod
    def _shown(messages: list[dict], args: dict) -> list[dict]:
        shown = copy.deepcopy(messages)
        if not _truthy(args.get("include_all_metadata")):
            for message in shown:
                message.pop("metadata", None)
        return shown

    # -- users, user groups ----------------------------------------------------------------

    def _api_users_info(self, args: dict) -> dict:
        user = self._users.get(args.get("user"))  # type: ignore[arg-type]
        if user is None:
            raise ApiError("user_not_found")
        return {"user": self._user_object(user, _truthy(args.get("include_locale")))}

    def _api_users_list(self, args: dict) -> dict:
        include_locale = _truthy(args.get("include_locale"))
        members = [self._user_object(u, include_locale) for u in self._users.values()]
        # limit=0 (the default) returns everyone, as Slack does for small workspaces
        page, cursor = self._paginate(members, args, default_limit=len(members) or 1)
        return {"members": page, "cache_ts": int(time.time()), "response_metadata": {"next_cursor": cursor}}

    def _api_usergroups_users_list(self, args: dict) -> dict:
        group = self._usergroups.get(args.get("usergroup"))  # type: ignore[arg-type]
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group["users"])}

    # -- views -----------------------------------------------------------------------------

    def _check_view_arg(self, args: dict, vtype: str | None) -> dict:
        """Slack answers a bad view with invalid_arguments and "[ERROR] ..." messages."""
        view = args.get("view")
        errors = check_view(view)
        if not errors and vtype is not None and view["type"] != vtype:  # type: ignore[index]
            errors = ["must be a valid enum value [json-pointer:/view/type]"]
        if errors:
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
            )
        return view  # type: ignore[return-value]

    def _exchange_trigger(self, trigger_id: Any) -> dict:
        trigger = self._triggers.get(trigger_id)  # type: ignore[arg-type]
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger["used"]:
            raise ApiError("exchanged_trigger_id")
        if self.clock() - trigger["issued"] > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        trigger["used"] = True
        return trigger

    def _make_view(self, spec: dict, user_id: str | None, view_id: str | None = None) -> dict:
        """A view object as Slack returns it (id, hash, state, ...)."""
        external_id = spec.get("external_id", "")
        if external_id:
            clash = next(
                (v for v in self._views.values() if v["external_id"] == external_id and v["id"] != view_id),
                None,
            )
            if clash is not None:
                raise ApiError("duplicate_external_id")
        view_id = view_id or self._next_id("V")
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": copy.deepcopy(spec.get("blocks", [])),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "external_id": external_id,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        for key in ("title", "submit", "close"):
            if spec.get(key) is not None:
                view[key] = copy.deepcopy(spec[key])
        self._views[view_id] = view
        if user_id is not None:
            self._view_owner[view_id] = user_id
        return view

    def _find_view(self, args: dict) -> dict:
        view = None
        if args.get("view_id"):
            view = self._views.get(args["view_id"])
        elif args.get("external_id"):
            view = next((v for v in self._views.values() if v["external_id"] == args["external_id"]), None)
        if view is None:
            raise ApiError("not_found")
        return view

    def _api_views_open(self, args: dict) -> dict:
        spec = self._check_view_arg(args, "modal")
        trigger = self._exchange_trigger(args.get("trigger_id"))
        user = trigger["user_id"]
        view = self._make_view(spec, user)
        self._modal_stacks[user] = [view["id"]]  # a new modal replaces whatever was open
        return {"view": copy.deepcopy(view)}

    def _api_views_push(self, args: dict) -> dict:
        spec = self._check_view_arg(args, "modal")
        trigger = self._exchange_trigger(args.get("trigger_id"))
        user = trigger["user_id"]
        stack = self._modal_stacks.get(user) or []
        if not stack:
            raise ApiError("not_found")  # nothing to push onto
        if len(stack) >= MAX_MODAL_STACK:
            raise ApiError("push_limit_reached")
        view = self._make_view(spec, user)
        view["previous_view_id"] = stack[-1]
        view["root_view_id"] = stack[0]
        stack.append(view["id"])
        return {"view": copy.deepcopy(view)}

    def _api_views_update(self, args: dict) -> dict:
        old = self._find_view(args)
        if args.get("hash") and args["hash"] != old["hash"]:
            raise ApiError("hash_conflict")
        spec = self._check_view_arg(args, old["type"])
        view = self._make_view(spec, self._view_owner.get(old["id"]), view_id=old["id"])
        view["previous_view_id"], view["root_view_id"] = old["previous_view_id"], old["root_view_id"]
        view["state"] = old["state"]
        return {"view": copy.deepcopy(view)}

    def _api_views_publish(self, args: dict) -> dict:
        user = args.get("user_id")
        if user not in self._users:
            raise ApiError("user_not_found")
        spec = self._check_view_arg(args, "home")
        old_id = self._homes.get(user)  # type: ignore[arg-type]
        if old_id and args.get("hash") and args["hash"] != self._views[old_id]["hash"]:
            raise ApiError("hash_conflict")
        view = self._make_view(spec, user, view_id=old_id)
        self._homes[user] = view["id"]  # type: ignore[index]
        return {"view": copy.deepcopy(view)}

    def close_view(self, user_id: str, view_id: str) -> None:
        """The user pressed a pushed view's back/close: that view and the ones above it go."""
        with self._lock:
            stack = self._modal_stacks.get(user_id, [])
            if view_id in stack:
                del stack[stack.index(view_id):]
            if not stack:
                self._modal_stacks.pop(user_id, None)

    def close_modals(self, user_id: str) -> None:
        """The user closed their modal(s)."""
        with self._lock:
            self._modal_stacks.pop(user_id, None)

    def apply_view_response(self, view_id: str, response: dict | None) -> dict | None:
        """Applies an app's ack of a view_submission, as Slack does: None/{} closes the
        submitted view, "clear" closes all, "update" replaces it, "push" pushes a new one,
        "errors" keeps it open. Returns the errors dict for "errors", else None. Raises
        AssertionError when the response is something Slack would refuse."""
        response = response or {}
        action = response.get("response_action")
        with self._lock:
            user = self._view_owner.get(view_id)
            stack = self._modal_stacks.get(user, [])  # type: ignore[arg-type]
            assert view_id in stack, f"view {view_id} is not open"
            if action in ("update", "push"):
                errors = check_view(response.get("view"))
                assert not errors, f"invalid view in response_action {action}: {errors}"
            if action is None:
                stack.remove(view_id)
            elif action == "clear":
                stack.clear()
            elif action == "update":
                old = self._views[view_id]
                view = self._make_view(response["view"], user, view_id=view_id)
                view["previous_view_id"], view["root_view_id"] = old["previous_view_id"], old["root_view_id"]
            elif action == "push":
                assert len(stack) < MAX_MODAL_STACK, "push_limit_reached"
                view = self._make_view(response["view"], user)
                view["previous_view_id"], view["root_view_id"] = stack[-1], stack[0]
                stack.append(view["id"])
            elif action == "errors":
                assert isinstance(response.get("errors"), dict), (
                    "errors must be a dict of block_id -> message"
                )
                return response["errors"]
            else:
                raise AssertionError(f"unknown response_action {action!r}")
            if not stack:
                self._modal_stacks.pop(user, None)  # type: ignore[arg-type]
        return None

    # -- files -----------------------------------------------------------------------------

    def _api_files_getUploadURLExternal(self, args: dict) -> dict:
        filename, length = args.get("filename"), args.get("length")
        try:
            length = int(length)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            length = None
        if not filename or length is None or length < 0:
            raise ApiError("invalid_arguments")
        file_id = self._next_id("F")
        self._files[file_id] = UploadedFile(
            id=file_id,
            filename=filename,
            length=length,
            alt_txt=args.get("alt_txt"),
            snippet_type=args.get("snippet_type"),
        )
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, args: dict) -> dict:
        specs = args.get("files")
        if not isinstance(specs, list) or not specs:
            raise ApiError("invalid_arguments")
        uploads = []
        for spec in specs:
            upload = self._files.get(spec.get("id")) if isinstance(spec, dict) else None
            if upload is None or upload.content is None or upload.completed:
                raise ApiError("file_not_found")
            uploads.append((upload, spec))
        channel_id = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        conv = None
        if channel_id:
            conv = self._resolve_channel(channel_id, allow_user=False)
            if self.bot_user_id not in conv["members"]:
                raise ApiError("not_in_channel")
        file_objects = []
        for upload, spec in uploads:
            upload.title = spec.get("title") or upload.filename
            upload.channel_id = conv["id"] if conv else None
            upload.thread_ts = args.get("thread_ts")
            upload.initial_comment = args.get("initial_comment")
            upload.completed = True
            upload.processing_checks = self.file_processing_checks
            file_objects.append(
                {
                    "id": upload.id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.content or b""),
                    "user": self.bot_user_id,
                    "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{upload.id}",
                }
            )
        if conv is not None:
            # Slack shares the files as a message in the channel (or thread).
            self._store_message(
                conv["id"],
                user=self.bot_user_id,
                text=args.get("initial_comment"),
                blocks=None,
                thread_ts=args.get("thread_ts"),
                extra={"files": copy.deepcopy(file_objects), "upload": True},
            )
        return {"files": file_objects}

    def _file_object(self, upload: UploadedFile) -> dict:
        ready = upload.processing_checks <= 0
        url = f"{self.url}/files-pri/{upload.id}/{upload.filename}"
        return {"id": upload.id, "name": upload.filename, "title": upload.title or upload.filename,
                "mimetype": ("image/png" if upload.filename.endswith(".png") else "application/octet-stream")
                if ready else "", "size": len(upload.content or b""), "user": self.bot_user_id,
                "is_public": False, "url_private": url, "url_private_download": url,
                "shares": {"public": {upload.channel_id: [{"ts": upload.thread_ts}]}} if upload.channel_id else {}}

    def _api_files_info(self, args: dict) -> dict:
        """https://docs.slack.dev/reference/methods/files.info: file_not_found for an id that was
        never completed. While Slack is still processing the file its mimetype is empty."""
        upload = self._files.get(str(args.get("file") or ""))
        if upload is None or not upload.completed:
            raise ApiError("file_not_found")
        answer = self._file_object(upload)
        if upload.processing_checks > 0:
            upload.processing_checks -= 1
        return {"file": answer}

    def _check_slack_files(self, blocks) -> None:
        """An image block's slack_file must name a completed, processed image the bot can see
        (https://docs.slack.dev/reference/block-kit/composition-objects/slack-file-object); else
        Slack refuses the message as invalid_blocks, naming the block."""
        errors = []
        for index, block in enumerate(blocks or []):
            slack_file = block.get("slack_file") if isinstance(block, dict) and block.get("type") == "image" else None
            if slack_file is None:
                continue
            upload = self._files.get(str(slack_file.get("id") or ""))
            if upload is None or not upload.completed or upload.processing_checks > 0 or \
                    not upload.filename.lower().endswith((".png", ".jpg", ".jpeg", ".gif")):
                errors.append(f"invalid slack file [json-pointer:/blocks/{index}/slack_file]")
        if errors:
            raise ApiError("invalid_blocks", errors=errors, response_metadata={"messages": errors})

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            field_value = next((v for v in form.values() if isinstance(v, web.FileField)), None)
            data = field_value.file.read() if field_value is not None else b""
        else:
            data = await request.read()
        with self._lock:
            upload = self._files.get(file_id)
            if upload is None:
                return web.Response(status=404, text="file_not_found")
            upload.content = data
        return web.Response(status=200, text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        """url_private(_download): the file's bytes for the bot token; anyone else is sent to the
        sign-in page, as Slack does (HTTP 302 to HTML, never the file)."""
        with self._lock:
            upload = self._files.get(request.match_info["file_id"])
            data = upload.content if upload is not None and upload.filename == request.match_info["name"] else None
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            raise web.HTTPFound(f"{self.url}/signin")
        if data is None:
            return web.Response(status=404, text="file_not_found")
        return web.Response(status=200, body=data, content_type="application/octet-stream")

    async def _handle_signin(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200, text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
                            content_type="text/html")

    # -- Socket Mode: the HTTP side --------------------------------------------------------

    def _api_apps_connections_open(self, args: dict) -> dict:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}
