"""Block Kit limit checks, the way Slack applies them when a surface is sent: the one copy.

`templates.render()` checks every rendered payload before anything is sent (with
templates.cutting's `clip_surface`: too-long texts are cut there, not refused), and the local
Slack in localslack/ refuses what `check_blocks` / `check_view` find, the way Slack answers
`invalid_blocks`.

`check_blocks(blocks, surface)` checks a list of blocks for a "message", "modal" or "home"
surface; `check_view(view)` checks a whole modal / Home tab view (title, submit, close,
private_metadata, callback_id, ... and its blocks). Both return a list of error strings in
Slack's wording style, each ending with a JSON pointer to the offending value:

    "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"

An empty list means the surface would be accepted. The limits are the documented ones
(docs.slack.dev, Block Kit reference). Only limits and shapes that Slack really refuses are
checked; the exact wording of Slack's messages varies, so tests should assert on the pointer
and the limit rather than on the whole sentence.

slack_sdk.models validates blocks too (parse a dict, then `to_dict()` raises on the first
broken limit), but it was no substitute: it misses duplicate block_ids, blocks per surface,
mrkdwn where only plain_text is allowed, empty texts and the options inside an input's select;
it names the block, not the field; and it took ~50x longer than this walk on a 7-block card.
"""

from __future__ import annotations

from typing import Any

# Blocks per surface.
MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
SECTION_TEXT = 3000  # a section's text, and any text object (docs.slack.dev: composition objects, text)
MESSAGE_TEXT = 40_000  # a message's top-level text; Slack cuts it beyond (msg_too_long)
PRIVATE_METADATA = 3000  # a view's private_metadata

BLOCK_TYPES = {
    "actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text", "section",
    "video"
}

SELECT_TYPES = {
    "static_select", "external_select", "users_select", "conversations_select", "channels_select",
    "multi_static_select", "multi_external_select", "multi_users_select", "multi_conversations_select",
    "multi_channels_select"
}

# Interactive elements allowed in an actions block.
ACTION_ELEMENTS = SELECT_TYPES | {
    "button", "checkboxes", "datepicker", "datetimepicker", "overflow", "radio_buttons", "rich_text_input",
    "timepicker", "workflow_button"
}

# Elements allowed as a section accessory.
ACCESSORY_ELEMENTS = SELECT_TYPES | {
    "button", "checkboxes", "datepicker", "image", "overflow", "radio_buttons", "timepicker",
    "workflow_button"
}

# Elements allowed in an input block.
INPUT_ELEMENTS = SELECT_TYPES | {
    "checkboxes", "datepicker", "datetimepicker", "email_text_input", "file_input", "number_input",
    "plain_text_input", "radio_buttons", "rich_text_input", "timepicker", "url_text_input"
}

# Max options per element type (selects: 100; overflow: 5; checkboxes and radio buttons: 10).
MAX_OPTIONS = {"overflow": 5, "checkboxes": 10, "radio_buttons": 10}
DEFAULT_MAX_OPTIONS = 100


class Checker:
    """Collects errors for one surface; remembers block_ids to refuse duplicates."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()

    # -- primitives ----------------------------------------------------------------------

    def err(self, message: str, path: str) -> None:
        self.errors.append(f"{message} [json-pointer:{path}]")

    def present(self, value: Any, path: str, required: bool) -> bool:
        """Is there a value to check? A missing one is an error only where it is required."""
        if value is None and required:
            self.err("missing required field", path)
        return value is not None

    def too_long(self, holder: dict, limit: int, path: str) -> None:
        """holder["text"] is over `limit`: an error (templates.cutting's clipper cuts it instead)."""
        self.err(f"must be less than {limit + 1} characters", path)

    def string(self, value: Any, path: str, limit: int | None, required: bool = False) -> None:
        if not self.present(value, path, required):
            return
        if not isinstance(value, str):
            self.err("must provide a string", path)
        elif limit is not None and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", path)

    def text(self, obj: Any, path: str, limit: int | None, *, plain_only: bool = False, required: bool = True) -> None:
        """A text object: {"type": "plain_text" | "mrkdwn", "text": "<non-empty>"}."""
        if not self.present(obj, path, required):
            return
        if not isinstance(obj, dict):
            self.err("must provide an object", path)
            return
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if obj.get("type") not in allowed:
            self.err("must be a valid enum value", f"{path}/type")
        text = obj.get("text")
        if not isinstance(text, str):
            self.err("must provide a string", f"{path}/text")
        elif text == "":
            self.err("must be more than 0 characters", f"{path}/text")
        elif limit is not None and len(text) > limit:
            self.too_long(obj, limit, f"{path}/text")

    def items(self, seq: Any, path: str, max_items: int, min_items: int = 0) -> list:
        """Checks that seq is an array within the bounds; returns it (or [] when it is not a list)."""
        if not isinstance(seq, list):
            self.err("must provide an array", path)
            return []
        if len(seq) > max_items:
            self.err(f"no more than {max_items} items allowed", path)
        if len(seq) < min_items:
            self.err(f"must provide at least {min_items} items", path)
        return seq

    # -- blocks ----------------------------------------------------------------------------

    def blocks(self, blocks: Any, surface: str, path: str) -> None:
        limit = MAX_BLOCKS.get(surface, 50)
        for i, block in enumerate(self.items(blocks, path, limit)):
            self.block(block, f"{path}/{i}")

    def block(self, block: Any, path: str) -> None:
        if not isinstance(block, dict):
            self.err("must provide an object", path)
            return
        btype = block.get("type")
        if btype not in BLOCK_TYPES:
            self.err(f"must be a valid enum value, got {btype!r}", f"{path}/type")  # the value helps template authors
            return
        block_id = block.get("block_id")
        if block_id is not None:
            self.string(block_id, f"{path}/block_id", 255)
            if isinstance(block_id, str):
                if block_id in self.block_ids:
                    self.err(f"duplicate block_id {block_id!r}", f"{path}/block_id")
                self.block_ids.add(block_id)

        if btype == "section":
            if block.get("text") is None and block.get("fields") is None:
                self.err("must provide either text or fields", path)
            self.text(block.get("text"), f"{path}/text", SECTION_TEXT, required=False)
            if block.get("fields") is not None:
                for i, field in enumerate(self.items(block["fields"], f"{path}/fields", 10, 1)):
                    self.text(field, f"{path}/fields/{i}", 2000)
            if block.get("accessory") is not None:
                self.element(block["accessory"], f"{path}/accessory", ACCESSORY_ELEMENTS)
        elif btype == "header":
            self.text(block.get("text"), f"{path}/text", 150, plain_only=True)
        elif btype == "image":
            self.image(block, path)
            self.text(block.get("title"), f"{path}/title", 2000, plain_only=True, required=False)
        elif btype == "context":
            for i, el in enumerate(self.items(block.get("elements"), f"{path}/elements", 10, 1)):
                epath = f"{path}/elements/{i}"
                if isinstance(el, dict) and el.get("type") == "image":
                    self.image(el, epath)
                else:
                    self.text(el, epath, SECTION_TEXT)
        elif btype == "actions":
            for i, el in enumerate(self.items(block.get("elements"), f"{path}/elements", 25, 1)):
                self.element(el, f"{path}/elements/{i}", ACTION_ELEMENTS)
        elif btype == "input":
            self.text(block.get("label"), f"{path}/label", 2000, plain_only=True)
            self.text(block.get("hint"), f"{path}/hint", 2000, plain_only=True, required=False)
            if block.get("element") is None:
                self.err("missing required field", f"{path}/element")
            else:
                self.element(block["element"], f"{path}/element", INPUT_ELEMENTS)
        elif btype == "markdown":
            self.string(block.get("text"), f"{path}/text", 12000, required=True)
        elif btype == "rich_text":
            self.items(block.get("elements"), f"{path}/elements", 10_000)
        elif btype == "file":
            self.string(block.get("external_id"), f"{path}/external_id", 255, required=True)
            self.string(block.get("source"), f"{path}/source", None, required=True)
        elif btype == "video":
            self.text(block.get("title"), f"{path}/title", 200, plain_only=True)
            for key in ("video_url", "thumbnail_url", "alt_text"):
                self.string(block.get(key), f"{path}/{key}", None, required=True)

    def image(self, obj: dict, path: str) -> None:
        """An image block or image element: image_url (or slack_file) and alt_text."""
        if obj.get("image_url") is None and obj.get("slack_file") is None:
            self.err("must provide either image_url or slack_file", path)
        self.string(obj.get("image_url"), f"{path}/image_url", 3000)
        self.string(obj.get("alt_text"), f"{path}/alt_text", 2000, required=True)

    # -- elements --------------------------------------------------------------------------

    def element(self, el: Any, path: str, allowed: set[str]) -> None:
        if not isinstance(el, dict):
            self.err("must provide an object", path)
            return
        etype = el.get("type")
        if etype not in allowed:
            self.err(f"must be a valid enum value, got {etype!r}", f"{path}/type")
            return
        self.string(el.get("action_id"), f"{path}/action_id", 255)
        if el.get("confirm") is not None:
            self.confirm(el["confirm"], f"{path}/confirm")
        if "placeholder" in el:
            self.text(el["placeholder"], f"{path}/placeholder", 150, plain_only=True)

        if etype == "button":
            self.text(el.get("text"), f"{path}/text", 75, plain_only=True)
            self.string(el.get("value"), f"{path}/value", 2000)
            self.string(el.get("url"), f"{path}/url", 3000)
            if el.get("style") is not None and el["style"] not in ("primary", "danger"):
                self.err("must be a valid enum value", f"{path}/style")
        elif etype == "image":
            self.image(el, path)
        elif etype in ("static_select", "multi_static_select", "overflow", "checkboxes", "radio_buttons"):
            # checkboxes and radio buttons may use mrkdwn option text; selects and overflow may not
            mrkdwn_ok = etype in ("checkboxes", "radio_buttons")
            max_options = MAX_OPTIONS.get(etype, DEFAULT_MAX_OPTIONS)
            if etype.endswith("static_select") and el.get("option_groups") is not None:
                groups = self.items(el["option_groups"], f"{path}/option_groups", 100, 1)
                for g, group in enumerate(groups):
                    gpath = f"{path}/option_groups/{g}"
                    if not isinstance(group, dict):
                        self.err("must provide an object", gpath)
                        continue
                    self.text(group.get("label"), f"{gpath}/label", 75, plain_only=True)
                    self.options(group.get("options"), f"{gpath}/options", max_options, False)
            else:
                self.options(el.get("options"), f"{path}/options", max_options, mrkdwn_ok)
        elif etype == "plain_text_input":
            self.string(el.get("initial_value"), f"{path}/initial_value", 3000)
            max_length = el.get("max_length")
            if max_length is not None and (not isinstance(max_length, int) or not 1 <= max_length <= 3000):
                self.err("must be between 1 and 3000", f"{path}/max_length")

    def options(self, options: Any, path: str, max_items: int, mrkdwn_ok: bool) -> None:
        for i, opt in enumerate(self.items(options, path, max_items, 1)):
            opath = f"{path}/{i}"
            if not isinstance(opt, dict):
                self.err("must provide an object", opath)
                continue
            self.text(opt.get("text"), f"{opath}/text", 75, plain_only=not mrkdwn_ok)
            self.string(opt.get("value"), f"{opath}/value", 150)
            self.text(opt.get("description"), f"{opath}/description", 75, plain_only=True, required=False)
            self.string(opt.get("url"), f"{opath}/url", 3000)

    def confirm(self, obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            self.err("must provide an object", path)
            return
        self.text(obj.get("title"), f"{path}/title", 100, plain_only=True)
        self.text(obj.get("text"), f"{path}/text", 300)
        self.text(obj.get("confirm"), f"{path}/confirm", 30, plain_only=True)
        self.text(obj.get("deny"), f"{path}/deny", 30, plain_only=True)


def check_blocks(blocks: Any, surface: str = "message", pointer: str = "/blocks") -> list[str]:
    """Errors for a list of blocks on a surface ("message": 50 blocks; "modal"/"home": 100)."""
    if surface not in MAX_BLOCKS:
        raise ValueError(f"unknown surface {surface!r}; use one of {sorted(MAX_BLOCKS)}")
    checker = Checker()
    checker.blocks(blocks, surface, pointer)
    return checker.errors


def check_view(view: Any, pointer: str = "/view", checker: Checker | None = None) -> list[str]:
    """Errors for a whole view object (type "modal" or "home"), its fields and its blocks."""
    checker = checker or Checker()
    if not isinstance(view, dict):
        checker.err("must provide an object", pointer)
        return checker.errors
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        checker.err("must be a valid enum value", f"{pointer}/type")
        return checker.errors
    if vtype == "modal":
        checker.text(view.get("title"), f"{pointer}/title", 24, plain_only=True)
        checker.text(view.get("submit"), f"{pointer}/submit", 24, plain_only=True, required=False)
        checker.text(view.get("close"), f"{pointer}/close", 24, plain_only=True, required=False)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            checker.err("must provide submit when blocks contain input blocks", f"{pointer}/submit")
    checker.string(view.get("private_metadata"), f"{pointer}/private_metadata", PRIVATE_METADATA)
    checker.string(view.get("callback_id"), f"{pointer}/callback_id", 255)
    checker.string(view.get("external_id"), f"{pointer}/external_id", 255)
    if view.get("blocks") is None:
        checker.err("missing required field", f"{pointer}/blocks")
    else:
        checker.blocks(view["blocks"], vtype, f"{pointer}/blocks")
    return checker.errors


def check_surface(payload: dict, checker: Checker | None = None) -> list[str]:
    """Errors for a rendered payload: a modal or Home tab view (`type`), else a message
    (`text` and/or `blocks`)."""
    checker = checker or Checker()
    if payload.get("type") in ("modal", "home"):
        return check_view(payload, pointer="", checker=checker)
    text = payload.get("text")
    if not text and not payload.get("blocks"):
        checker.err("a message needs text or blocks", "/text")
    if isinstance(text, str) and len(text) > MESSAGE_TEXT:
        checker.too_long(payload, MESSAGE_TEXT, "/text")
    else:
        checker.string(text, "/text", MESSAGE_TEXT)
    if payload.get("blocks") is not None:
        checker.blocks(payload["blocks"], "message", "/blocks")
    return checker.errors
