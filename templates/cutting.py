"""`cut()`: text that is already escaped, shortened without breaking an entity or a character;
`clip_surface()`: every text of a rendered payload cut to its Block Kit limit.

Slack measures lengths on the text as sent, i.e. after escaping: `&` counts as the five
characters of `&amp;`. So user text is escaped first and cut second: the `fit` filter, and
`render()` for what a template left too long (`clip_surface`).
"""

from __future__ import annotations

import unicodedata

from templates.blockkit import Checker, check_surface

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


class _Clipper(Checker):
    """The Block Kit check, cutting each too-long text in place (noted in `clipped`) instead of
    calling it an error."""

    def __init__(self) -> None:
        super().__init__()
        self.clipped: list[str] = []

    def too_long(self, holder: dict, limit: int, path: str) -> None:
        self.clipped.append(f"{path} ({len(holder['text'])} → {limit})")
        holder["text"] = cut(holder["text"], limit)


def clip_surface(payload: dict) -> tuple[list[str], list[str]]:
    """Cut every too-long text of `payload` in place (with an ellipsis); (errors left, places cut).
    What cannot be cut (too many blocks, metadata, ids) stays an error."""
    clipper = _Clipper()
    return check_surface(payload, clipper), clipper.clipped
