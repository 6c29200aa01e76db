"""Slack's Block Kit limits, checked on every rendered payload before it is sent, and `cut()`,
which shortens text that is already escaped without breaking an entity or a character.

The numbers are Slack's (docs.slack.dev, Block Kit reference); the messages point at the
offending place like Slack's own `invalid_blocks` errors do. Lengths are measured on the text
as sent, i.e. after escaping: `&` counts as the five characters of `&amp;`.
"""

from __future__ import annotations

import unicodedata

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
MESSAGE_TEXT = 40_000
LIMITS = {
    "section_text": 3000, "field": 2000, "fields": 10, "header": 150, "button": 75, "option": 75,
    "option_value": 150, "options": 100, "context_elements": 10, "actions_elements": 25,
    "modal_title": 24, "modal_button": 24, "private_metadata": 3000, "id": 255, "label": 2000,
    "hint": 2000, "value": 2000, "url": 3000, "placeholder": 150,
}
ELLIPSIS = "…"
_ENTITY_LONGEST = len("&amp;")


def _joins_previous(text: str, index: int) -> bool:
    """Would cutting before text[index] split what a reader sees as one character?"""
    char, before = text[index], text[index - 1]
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Mc", "Me")  # combining marks (é as e + ◌́)
            or char == "\u200d" or before == "\u200d"  # zero-width joiner inside an emoji sequence
            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF  # variation selectors
            or 0x1F3FB <= code <= 0x1F3FF  # skin tones
            or 0xE0020 <= code <= 0xE007F  # tag characters (flags of regions)
            or 0xDC00 <= code <= 0xDFFF and 0xD800 <= ord(before) <= 0xDBFF  # a surrogate pair
            or _inside_flag(text, index))


def _inside_flag(text: str, index: int) -> bool:
    """Regional indicators pair up into flags: an odd number of them before `index` means we are
    between the two halves of one flag."""
    def regional(c: str) -> bool:
        return 0x1F1E6 <= ord(c) <= 0x1F1FF

    if not regional(text[index]):
        return False
    run = 0
    while index - run - 1 >= 0 and regional(text[index - run - 1]):
        run += 1
    return run % 2 == 1


def cut(text: str, limit: int, end: str = ELLIPSIS) -> str:
    """`text` (already escaped) shortened to at most `limit` characters, `end` included.

    Never cuts inside an entity (`&amp;`, `&lt;`, `&gt;`: after escaping every `&` starts one) nor
    inside a combining sequence, emoji sequence, flag or surrogate pair.
    """
    if len(text) <= limit:
        return text
    at = max(limit - len(end), 0)
    entity = text.rfind("&", max(at - _ENTITY_LONGEST + 1, 0), at)
    if entity != -1 and text.find(";", entity) >= at:
        at = entity
    while 0 < at < len(text) and _joins_previous(text, at):
        at -= 1
    return text[:at] + end


class _Walk:
    """One pass over a surface: collects problems; with `clip`, too-long text objects are cut
    (and noted in `clipped`) instead of being problems."""

    def __init__(self, clip: bool):
        self.clip = clip
        self.problems: list[str] = []
        self.clipped: list[str] = []
        self.block_ids: set[str] = set()

    def limit(self, size: int, maximum: int, where: str, what: str) -> None:
        if size > maximum:
            self.problems.append(f"{size} {what}, at most {maximum} allowed [{where}]")

    def text(self, obj, maximum: int, where: str, plain_only: bool = False) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            self.problems.append(f"expected a text object [{where}]")
            return
        if plain_only and obj["type"] != "plain_text":
            self.problems.append(f"must be plain_text [{where}/type]")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.problems.append(f"text must be a non-empty string [{where}/text]")
        elif self.clip and len(text) > maximum:
            obj["text"] = cut(text, maximum)
            self.clipped.append(f"{where}/text ({len(text)} → {maximum})")
        else:
            self.limit(len(text), maximum, f"{where}/text", "characters")

    def surface(self, payload: dict) -> None:
        kind = payload.get("type")
        blocks = payload.get("blocks") or []
        if kind in ("modal", "home"):
            self.limit(len(blocks), VIEW_BLOCKS, "/blocks", "blocks in a view")
            if kind == "modal":
                for key in ("title", "submit", "close"):
                    if key in payload:
                        self.text(payload[key], LIMITS["modal_title"], f"/{key}", plain_only=True)
                if "title" not in payload:
                    self.problems.append("a modal needs a title [/title]")
            self.limit(len(payload.get("private_metadata") or ""), LIMITS["private_metadata"],
                       "/private_metadata", "characters")
            self.limit(len(payload.get("callback_id") or ""), LIMITS["id"], "/callback_id", "characters")
        else:
            if not payload.get("text") and not blocks:
                self.problems.append("a message needs text or blocks [/text]")
            text = payload.get("text") or ""
            if self.clip and len(text) > MESSAGE_TEXT:
                payload["text"] = cut(text, MESSAGE_TEXT)
                self.clipped.append(f"/text ({len(text)} → {MESSAGE_TEXT})")
            self.limit(len(payload.get("text") or ""), MESSAGE_TEXT, "/text", "characters")
            self.limit(len(blocks), MESSAGE_BLOCKS, "/blocks", "blocks in a message")
        for index, block in enumerate(blocks):
            self.block(block, f"/blocks/{index}")

    def element(self, element: dict, where: str) -> None:
        kind = element.get("type")
        self.limit(len(element.get("action_id") or ""), LIMITS["id"], f"{where}/action_id", "characters")
        if kind == "button":
            self.text(element.get("text"), LIMITS["button"], f"{where}/text", plain_only=True)
            self.limit(len(element.get("value") or ""), LIMITS["value"], f"{where}/value", "characters")
            self.limit(len(element.get("url") or ""), LIMITS["url"], f"{where}/url", "characters")
        if "placeholder" in element:
            self.text(element["placeholder"], LIMITS["placeholder"], f"{where}/placeholder", plain_only=True)
        options = element.get("options") or []
        self.limit(len(options), LIMITS["options"], f"{where}/options", "options")
        for i, option in enumerate(options):
            self.text(option.get("text"), LIMITS["option"], f"{where}/options/{i}/text")
            self.limit(len(option.get("value") or ""), LIMITS["option_value"], f"{where}/options/{i}/value",
                       "characters")

    def block(self, block: dict, where: str) -> None:
        kind = block.get("type")
        block_id = block.get("block_id")
        if block_id is not None:
            self.limit(len(block_id), LIMITS["id"], f"{where}/block_id", "characters")
            if block_id in self.block_ids:
                self.problems.append(f"duplicate block_id {block_id!r} [{where}/block_id]")
            self.block_ids.add(block_id)
        if kind == "section":
            if "text" in block:
                self.text(block["text"], LIMITS["section_text"], f"{where}/text")
            fields = block.get("fields") or []
            self.limit(len(fields), LIMITS["fields"], f"{where}/fields", "fields")
            for i, field in enumerate(fields):
                self.text(field, LIMITS["field"], f"{where}/fields/{i}")
            if "text" not in block and not fields:
                self.problems.append(f"a section needs text or fields [{where}]")
            if "accessory" in block:
                self.element(block["accessory"], f"{where}/accessory")
        elif kind == "header":
            self.text(block.get("text"), LIMITS["header"], f"{where}/text", plain_only=True)
        elif kind == "context":
            elements = block.get("elements") or []
            self.limit(len(elements), LIMITS["context_elements"], f"{where}/elements", "elements")
            for i, element in enumerate(elements):
                if element.get("type") in ("plain_text", "mrkdwn"):
                    self.text(element, LIMITS["section_text"], f"{where}/elements/{i}")
        elif kind == "actions":
            elements = block.get("elements") or []
            self.limit(len(elements), LIMITS["actions_elements"], f"{where}/elements", "elements")
            for i, element in enumerate(elements):
                self.element(element, f"{where}/elements/{i}")
        elif kind == "input":
            self.text(block.get("label"), LIMITS["label"], f"{where}/label", plain_only=True)
            if "hint" in block:
                self.text(block["hint"], LIMITS["hint"], f"{where}/hint", plain_only=True)
            if isinstance(block.get("element"), dict):
                self.element(block["element"], f"{where}/element")
            else:
                self.problems.append(f"an input needs an element [{where}/element]")
        elif kind not in ("divider", "image", "rich_text", "file", "video"):
            self.problems.append(f"unknown block type {kind!r} [{where}/type]")


def check_surface(payload: dict) -> list[str]:
    """Problems with a message (`text`/`blocks`), modal or Home tab payload; empty means fine."""
    walk = _Walk(clip=False)
    walk.surface(payload)
    return walk.problems


def clip_surface(payload: dict) -> tuple[list[str], list[str]]:
    """Cut every too-long text object of `payload` in place (with an ellipsis); (problems left,
    places clipped). What cannot be cut (too many blocks, metadata, ids) stays a problem."""
    walk = _Walk(clip=True)
    walk.surface(payload)
    return walk.problems, walk.clipped
