"""Slack's Block Kit limits, checked on every rendered payload before it is sent.

The numbers are Slack's (docs.slack.dev, Block Kit reference); the messages point at the
offending place like Slack's own `invalid_blocks` errors do.
"""

from __future__ import annotations

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
MESSAGE_TEXT = 40_000
LIMITS = {
    "section_text": 3000, "field": 2000, "fields": 10, "header": 150, "button": 75, "option": 75,
    "option_value": 150, "options": 100, "context_elements": 10, "actions_elements": 25,
    "modal_title": 24, "modal_button": 24, "private_metadata": 3000, "id": 255, "label": 2000,
    "value": 2000, "url": 3000, "placeholder": 150,
}


def check_surface(payload: dict) -> list[str]:
    """Problems with a message (`text`/`blocks`), modal or Home tab payload; empty means fine."""
    problems: list[str] = []
    kind = payload.get("type")
    blocks = payload.get("blocks") or []
    if kind in ("modal", "home"):
        _limit(problems, len(blocks), VIEW_BLOCKS, "/blocks", "blocks in a view")
        if kind == "modal":
            for key in ("title", "submit", "close"):
                if key in payload:
                    _text(problems, payload[key], LIMITS["modal_title"], f"/{key}", plain_only=True)
            if "title" not in payload:
                problems.append("a modal needs a title [/title]")
        _limit(problems, len(payload.get("private_metadata") or ""), LIMITS["private_metadata"],
               "/private_metadata", "characters")
        _limit(problems, len(payload.get("callback_id") or ""), LIMITS["id"], "/callback_id", "characters")
    else:
        if not payload.get("text") and not blocks:
            problems.append("a message needs text or blocks [/text]")
        _limit(problems, len(payload.get("text") or ""), MESSAGE_TEXT, "/text", "characters")
        _limit(problems, len(blocks), MESSAGE_BLOCKS, "/blocks", "blocks in a message")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        _block(problems, block, f"/blocks/{index}", block_ids)
    return problems


def _limit(problems: list[str], size: int, maximum: int, where: str, what: str) -> None:
    if size > maximum:
        problems.append(f"{size} {what}, at most {maximum} allowed [{where}]")


def _text(problems, obj, maximum: int, where: str, plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        problems.append(f"expected a text object [{where}]")
        return
    if plain_only and obj["type"] != "plain_text":
        problems.append(f"must be plain_text [{where}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"text must be a non-empty string [{where}/text]")
        return
    _limit(problems, len(text), maximum, f"{where}/text", "characters")


def _element(problems, element: dict, where: str) -> None:
    kind = element.get("type")
    _limit(problems, len(element.get("action_id") or ""), LIMITS["id"], f"{where}/action_id", "characters")
    if kind == "button":
        _text(problems, element.get("text"), LIMITS["button"], f"{where}/text", plain_only=True)
        _limit(problems, len(element.get("value") or ""), LIMITS["value"], f"{where}/value", "characters")
        _limit(problems, len(element.get("url") or ""), LIMITS["url"], f"{where}/url", "characters")
    if "placeholder" in element:
        _text(problems, element["placeholder"], LIMITS["placeholder"], f"{where}/placeholder", plain_only=True)
    options = element.get("options") or []
    _limit(problems, len(options), LIMITS["options"], f"{where}/options", "options")
    for i, option in enumerate(options):
        _text(problems, option.get("text"), LIMITS["option"], f"{where}/options/{i}/text")
        _limit(problems, len(option.get("value") or ""), LIMITS["option_value"], f"{where}/options/{i}/value",
               "characters")


def _block(problems, block: dict, where: str, block_ids: set[str]) -> None:
    kind = block.get("type")
    block_id = block.get("block_id")
    if block_id is not None:
        _limit(problems, len(block_id), LIMITS["id"], f"{where}/block_id", "characters")
        if block_id in block_ids:
            problems.append(f"duplicate block_id {block_id!r} [{where}/block_id]")
        block_ids.add(block_id)
    if kind == "section":
        if "text" in block:
            _text(problems, block["text"], LIMITS["section_text"], f"{where}/text")
        fields = block.get("fields") or []
        _limit(problems, len(fields), LIMITS["fields"], f"{where}/fields", "fields")
        for i, field in enumerate(fields):
            _text(problems, field, LIMITS["field"], f"{where}/fields/{i}")
        if "text" not in block and not fields:
            problems.append(f"a section needs text or fields [{where}]")
        if "accessory" in block:
            _element(problems, block["accessory"], f"{where}/accessory")
    elif kind == "header":
        _text(problems, block.get("text"), LIMITS["header"], f"{where}/text", plain_only=True)
    elif kind == "context":
        elements = block.get("elements") or []
        _limit(problems, len(elements), LIMITS["context_elements"], f"{where}/elements", "elements")
        for i, element in enumerate(elements):
            if element.get("type") in ("plain_text", "mrkdwn"):
                _text(problems, element, LIMITS["section_text"], f"{where}/elements/{i}")
    elif kind == "actions":
        elements = block.get("elements") or []
        _limit(problems, len(elements), LIMITS["actions_elements"], f"{where}/elements", "elements")
        for i, element in enumerate(elements):
            _element(problems, element, f"{where}/elements/{i}")
    elif kind == "input":
        _text(problems, block.get("label"), LIMITS["label"], f"{where}/label", plain_only=True)
        if isinstance(block.get("element"), dict):
            _element(problems, block["element"], f"{where}/element")
        else:
            problems.append(f"an input needs an element [{where}/element]")
    elif kind not in ("divider", "image", "rich_text", "file", "video"):
        problems.append(f"unknown block type {kind!r} [{where}/type]")
