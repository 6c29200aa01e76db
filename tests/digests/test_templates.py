"""Team digest templates: the sandbox with StrictUndefined, checks that name the line, the fallback to
the default when a template breaks at send time (the owner is told), and splitting at Slack's limits."""

import os

import pytest
from sqlmodel import select

from handlers.digests import rendering
from models.db import session_scope
from models.digests import DigestSend, week
from tests.conftest import wait_until
from tests.digests.conftest import LEAD, make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import posted
from tests.outbox import drained
from tests.slack import ADMIN

GOOD = """text: "{{ digest.name }} {{ week.label }}"
blocks:
{% for m in metrics %}
  - type: section
    text: {type: mrkdwn, text: "{{ m.name }} {{ m.value|number }} {{ m.arrow }}"}
{% endfor %}
"""
CONTEXT = {"digest": {"name": "weekly"}, "week": {"label": "2026-W46"}, "metrics": [], "backfill": False}


@pytest.fixture
def team_dir(tmp_path, tandem, monkeypatch):
    monkeypatch.setattr(tandem.settings, "digest_templates_dir", str(tmp_path))
    return tmp_path


def write(directory, name: str, text: str) -> None:
    path = directory / f"{name}.yaml.j2"
    path.write_text(text)
    stamp = path.stat().st_mtime + 5  # Jinja reloads a template when its mtime changes
    os.utime(path, (stamp, stamp))


@pytest.mark.parametrize(("source", "line", "words"), [
    ("text: \"x\"\n\nblocks: []\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n", 4, "unsafe"),
    ("text: \"{{ digest.__init__.__globals__ }}\"\n", 1, "unsafe"),
    ("text: \"x\"\nblocks:\n{% for m in metrics %}\n", 3, "TemplateSyntaxError"),
    ("text: \"{{ nothing_here }}\"\n", 1, "'nothing_here' is undefined"),
    ("text: \"{{ digest.name }}\"\nblocks:\n  - type: banner\n", None, "got 'banner' [json-pointer:/blocks/0/type]"),
])
def test_the_sandbox_and_strict_undefined_refuse_with_the_line(tmp_path, source, line, words):
    write(tmp_path, "team", source)
    with pytest.raises(rendering.TemplateProblem) as refused:
        rendering.render(str(tmp_path), "team", language="en", context=CONTEXT)
    assert refused.value.line == line and words in refused.value.error


def test_template_check_names_the_line_and_passes_a_good_template(sender, slack, tandem, lead, team_dir):
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    make_digest(tandem.engine, slack.team_id, template="team")
    write(team_dir, "team", "text: \"x\"\nblocks: []\n{{ ''.__class__ }}\n")
    said = reply(sender, slack, "/digest", "template check weekly")["text"]
    assert said.startswith("Template team is broken at line 3: SecurityError: access to attribute '__class__'")
    assert reply(sender, slack, "/digest", "preview weekly")["text"] == said  # a preview says the same
    write(team_dir, "team", GOOD)
    assert reply(sender, slack, "/digest", "template check weekly")["text"] == \
        "Template team of weekly renders the last period's data without problems."


def test_a_template_broken_at_send_time_falls_back_to_the_default_and_tells_the_owner(
        sender, slack, tandem, lead, team_dir):
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    write(team_dir, "team", GOOD)
    make_digest(tandem.engine, slack.team_id, template="team")
    write(team_dir, "team", GOOD.replace("{% endfor %}", ""))  # edited after it was saved
    reply(sender, slack, "/digest", "send weekly now")
    [message] = posted(slack)
    assert "*Business metrics*" in message["blocks"][2]["text"]["text"]  # the default's layout
    told = wait_until(lambda: slack.messages(slack.dm_channel_of(ADMIN)), message="the owner's DM")[0]
    assert told["text"].startswith("Template team of digest weekly broke at line 5: TemplateSyntaxError")
    assert "used Tandem's default template" in told["text"]
    with session_scope(tandem.engine) as session:
        send = session.exec(select(DigestSend)).one()
    assert (send.template_used, send.fell_back) == ("default", True)


def test_long_digests_are_split_at_slacks_limits(sender, slack, tandem, lead, team_dir):
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    many = "text: \"{{ digest.name }}\"\nblocks:\n{% for i in range(60) %}\n  - type: section\n    text: " \
           "{type: mrkdwn, text: \"{{ i }} {{ 'x' * 4000 if i == 0 else 'y' }}\"}\n{% endfor %}\n"
    write(team_dir, "many", many)
    make_digest(tandem.engine, slack.team_id, template="many")
    reply(sender, slack, "/digest", "send weekly now")
    [first] = posted(slack)
    replies = drained(lambda: [m for m in slack.replies(LEAD, first["ts"]) if m["ts"] != first["ts"]
                               and m.get("blocks")], "the continuation")
    # 45 sections and the chart (the image block goes with the first message: 46 of Slack's 50)
    assert [b["type"] for b in first["blocks"][-2:]] == ["section", "image"]
    sections = first["blocks"][:-1] + replies[0]["blocks"]
    assert len(first["blocks"]) == 46 and len(replies[0]["blocks"]) == 16 and replies[0]["text"] == "weekly (2/2)"
    assert [len(b["text"]["text"]) for b in sections[:2]] == [3000, 1002]  # "0 " + 4000 x, cut at 3000
    assert [b["text"]["text"] for b in sections[2:]] == [f"{i} y" for i in range(1, 60)]


def test_the_default_digest_in_chinese(tandem, slack):
    context = {"digest": {"name": "周报"}, "backfill": True, "metrics": [],
               "sections": {},
               "period": {"kind": "week", "label": "2026-W46", "start": "2026-11-09", "end": "2026-11-15",
                          "zone": "Asia/Shanghai"},
               "requests": {"totals": dict.fromkeys(("opened", "accepted", "done", "declined"), 0),
                            "counts": {w: dict.fromkeys(("activity", "optimisation", "feature"), 0)
                                       for w in ("opened", "accepted", "done", "declined")},
                            "median_triage_hours": None, "median_done_hours": 2.5, "shipped": [],
                            "shipped_more": 0},
               "standups": {"answered": 7, "expected": 8, "participation_pct": 87.5, "on_time_pct": 85.7,
                            "blockers": 1, "blocker_rows": [{"user": "U0AB", "name": "<@U0AB> 安娜", "standup": "eng",
                                                           "day": "2026-11-10"}]},
               "approvals": None}
    [message] = rendering.render("", "default", language="zh_CN", context=context)
    assert message["text"] == "周报 · 第 2026-W46 周 (2026-11-09 – 2026-11-15, Asia/Shanghai) · 补发"
    assert "完成时长中位数：2.5 小时" in message["blocks"][2]["text"]["text"]
    assert message["blocks"][3]["text"]["text"] == \
        "*站会*\n应答 8 人次中回答 7 次（87.5%），85.7% 按时，提出阻碍 1 个\n• &lt;@U0AB&gt; 安娜 · eng · 2026-11-10"
    assert "<@" not in str(message)  # nobody is notified by a digest
    [english] = rendering.render("", "default", language="en", context=context)
    assert english["blocks"][3]["text"]["text"].startswith(
        "*Standups*\n7 of 8 answers (87.5%), 85.7% on time, 1 blocker raised\n")
    context["standups"].update(answered=1, expected=1, blockers=2)
    [english] = rendering.render("", "default", language="en", context=context)
    assert "\n1 of 1 answer (87.5%), 85.7% on time, 2 blockers raised\n" in english["blocks"][3]["text"]["text"]


def test_the_default_digest_shows_approvals():
    context = {"digest": {"name": "weekly"}, "backfill": False, "metrics": [], "standups": None,
               "sections": {},
               "period": {"kind": "week", "label": "2026-W47", "start": "2026-11-16", "end": "2026-11-22", "zone": "UTC"},
               "requests": {"totals": dict.fromkeys(("opened", "accepted", "done", "declined"), 0),
                            "counts": {w: dict.fromkeys(("activity", "optimisation", "feature"), 0)
                                       for w in ("opened", "accepted", "done", "declined")},
                            "median_triage_hours": None, "median_done_hours": None, "shipped": [], "shipped_more": 0},
               "approvals": {"approved": 1, "rejected": 1, "stages": [{"stage": "Ops lead", "median_hours": 3.0,
                                                                       "count": 2},
                                                                      {"stage": "Budget", "median_hours": 1.0,
                                                                       "count": 1}],
                             "starting_next_week": [{"ref": "REQ-1", "title": "Sale <1>", "starts": "2026-11-25"}],
                             "waiting": [{"ref": "REQ-5", "title": "Sale 5", "stage": "Ops lead",
                                          "since": "2026-11-15T19:00"}]}}
    [message] = rendering.render("", "default", language="en", context=context)
    assert message["blocks"][-1]["text"]["text"] == (
        "*Approvals*\nApproved 1 · rejected 1\n• Ops lead: median 3.0 h (2 decisions)\n• Budget: median 1.0 h (1 decision)\n"
        "*Approved activities starting next week*\n• 2026-11-25 REQ-1 Sale &lt;1&gt;\n"
        "*Waiting longest for approval*\n• REQ-5 Sale 5 · Ops lead · since 2026-11-15T19:00 UTC")


def test_a_section_another_capability_adds_shows_where_its_template_is(sender, slack, tandem, lead, team_dir,
                                                                       monkeypatch):
    """The seam for other capabilities (the activities of a period, say): a function adds data under
    its name, and its template (sections/NAME.yaml.j2) puts blocks after the built-in ones."""
    seen = []

    def probe(session, *, digest, period, zone):
        seen.append((digest.name, period.label, str(zone)))
        return {"running": 3}

    monkeypatch.setitem(week.SECTIONS, "probe", probe)
    monkeypatch.setitem(week.SECTIONS, "quiet", lambda session, **_: None)  # nothing to say: left out
    (team_dir / "sections").mkdir()
    write(team_dir / "sections", "probe",
          "  - type: section\n    text: {type: mrkdwn, text: \"probe: {{ data.running }} running\"}\n")
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    make_digest(tandem.engine, slack.team_id, cadence="quarterly")
    shown = reply(sender, slack, "/digest", "preview weekly 2026-Q3")
    assert shown["blocks"][-1]["text"]["text"] == "probe: 3 running"
    assert seen == [("weekly", "2026-Q3", "UTC")]
