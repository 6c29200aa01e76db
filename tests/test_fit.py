"""`fit`: user text escaped first, then cut on the escaped text, never inside an entity or a
character a reader sees as one (combining marks, emoji sequences, flags)."""

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import templates
from templates.cutting import cut

HOSTILE_CHARS = st.sampled_from(["<", ">", "&", "a", " ", "é", "e\u0301", "中", "文", "\u05e9", "\u0627",
                                 "\u202e", "👍", "👍🏽", "👨\u200d👩\u200d👧", "🇨🇳", "❤\ufe0f", "\n", '"', "\\"])
HOSTILE_TEXT = st.lists(HOSTILE_CHARS, max_size=400).map("".join)


def fitted(value, limit: int) -> str:
    out = templates._ENV.from_string('text: "{{ value|fit(limit) }}"').render(value=value, limit=limit)
    return yaml.safe_load(out)["text"]


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT, st.integers(min_value=1, max_value=300))
def test_fit_stays_within_the_limit_and_cuts_only_between_characters(value, limit):
    text = fitted(value, limit)
    escaped = templates.escape_mrkdwn(value)
    assert len(text) <= limit
    if len(escaped) <= limit:
        assert text == escaped
    else:
        kept = text.removesuffix("…")
        assert escaped.startswith(kept)  # nothing rewritten, only cut
        rest = escaped[len(kept):]
        assert not rest or not rest.startswith(("amp;", "lt;", "gt;", "mp;", "t;", "p;", ";"))  # not inside an entity
        if kept and rest:
            assert not templates.cutting._joins_previous(escaped, len(kept))


@pytest.mark.parametrize(("value", "limit", "expected"), [
    ("<" * 40, 150, "&lt;" * 37 + "…"),          # the title of issue 12: 160 escaped characters
    ("a&b", 5, "a…"),                            # "a&amp;b" has no room for the whole entity
    ("ab&cd", 8, "ab&amp;…"),
    ("e\u0301e\u0301", 3, "e\u0301…"),                    # é as e + combining accent stays whole
    ("👨\u200d👩\u200d👧x", 5, "…"),                      # a family emoji is one character to a reader
    ("🇨🇳🇩🇪", 3, "🇨🇳…"),                                # flags are pairs
])
def test_fit_examples(value, limit, expected):
    assert fitted(value, limit) == expected


def test_cut_leaves_short_text_alone():
    assert cut("&lt;b&gt;", 9) == "&lt;b&gt;"
