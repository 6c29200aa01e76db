"""The requests part of the App Home tab: my open requests, assigned to me, and (product team only)
needs triage, each with its count and newest items, published on app_home_opened."""

from __future__ import annotations

import json
import re

from localslack.payloads import app_home_opened
from tests.outbox import drained
from tests.requests.conftest import OPS, OPS_ZH, OUTSIDER, PM1, PM2, file_quickly
from tests.requests.test_finding import change, file_direct, give


def open_home(sender, slack, user) -> dict:
    before = len([c for c in slack.calls_to("views.publish") if c.args.get("user_id") == user])
    assert sender.event(app_home_opened(user)).status == 200
    drained(lambda: len([c for c in slack.calls_to("views.publish") if c.args.get("user_id") == user]) > before,
            f"the Home tab of {user}")
    home = slack.views[user]["home"]
    assert home["type"] == "home" and len(home["blocks"]) <= 100
    return home


def section(home: dict, key: str) -> tuple[str, list[str], str] | None:
    """(heading, REQ-n of its items, the context under it) of a requests section, or None."""
    blocks = home["blocks"]
    starts = [i for i, b in enumerate(blocks) if b.get("block_id") == f"requests_home_{key}"]
    if not starts:
        return None
    heading, items, note = blocks[starts[0]]["text"]["text"], [], ""
    for block in blocks[starts[0] + 1:]:
        text = block.get("text", {}).get("text", "") if block["type"] == "section" else ""
        if block["type"] == "section" and re.match(r"^\*REQ-\d+\*", text):
            items.append(re.match(r"^\*(REQ-\d+)\*", text).group(1))
        elif block["type"] == "context":
            note = block["elements"][0]["text"]
            break
        else:
            break
    return heading, items, note


def populate(tandem, team):
    """OPS: REQ-1..8 (REQ-2 declined, REQ-3 done, REQ-4 accepted); OPS_ZH: REQ-9 new.
    PM1 owns REQ-4 (open) and REQ-3 (done); PM2 owns REQ-5."""
    file_quickly(tandem, team, OPS, title="First, via the card")
    for n in range(2, 9):
        file_direct(tandem, team, OPS, title=f"Request {n}")
    file_direct(tandem, team, OPS_ZH, title="双十一活动")
    change(tandem, team, 2, "decline", reason="no")
    change(tandem, team, 3, "accept")
    give(tandem, team, 3, PM1)
    change(tandem, team, 3, "done")
    change(tandem, team, 4, "accept")
    give(tandem, team, 4, PM1)
    give(tandem, team, 5, PM2)


def test_the_product_team_sees_what_needs_triage(sender, slack, tandem, workspace):
    populate(tandem, workspace.team_id)
    home = open_home(sender, slack, PM1)
    assert home["blocks"][0]["text"]["text"] == "Welcome to Tandem"
    [button] = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "request_new_from_home"]
    assert button["text"]["text"] == "New request"
    assert section(home, "mine") == ("*My open requests* (0)", [],
                                     "Nothing open. File a request with the button above or `/request`.")
    heading, items, note = section(home, "assigned")
    assert (heading, items, note) == ("*Assigned to me* (1)", ["REQ-4"], "")
    heading, items, note = section(home, "triage")
    assert heading == "*Needs triage* (6)"  # REQ-1, 5, 6, 7, 8, 9 are new
    assert items == ["REQ-9", "REQ-8", "REQ-7", "REQ-6", "REQ-5"]
    assert note == "The newest 5 of 6; `/request list status:new` shows them all."
    text = json.dumps(home, ensure_ascii=False)
    assert f"requested by <@{OPS_ZH}>" in text and f"owner <@{PM2}>" in text


def test_a_requester_outside_the_product_team_sees_no_triage(sender, slack, tandem, workspace):
    populate(tandem, workspace.team_id)
    home = open_home(sender, slack, OPS)
    heading, items, note = section(home, "mine")
    assert heading == "*My open requests* (6)"  # REQ-2 declined and REQ-3 done are not open
    assert items == ["REQ-8", "REQ-7", "REQ-6", "REQ-5", "REQ-4"]
    assert note == "The newest 5 of 6; `/request list mine open` shows them all."
    assert section(home, "assigned") == ("*Assigned to me* (0)", [], "Nothing is assigned to you.")
    assert section(home, "triage") is None
    assert "Needs triage" not in json.dumps(home)

    outsider = open_home(sender, slack, OUTSIDER)
    assert section(outsider, "triage") is None
    assert section(outsider, "mine")[0] == "*My open requests* (0)"


def test_joining_the_triage_channel_shows_the_section(sender, slack, tandem, workspace):
    from handlers.requests.common import forget_members_cache

    file_direct(tandem, workspace.team_id, OPS)
    assert section(open_home(sender, slack, OUTSIDER), "triage") is None
    slack.add_member(workspace.triage, OUTSIDER)
    forget_members_cache()
    assert section(open_home(sender, slack, OUTSIDER), "triage") == ("*Needs triage* (1)", ["REQ-1"], "")


def test_hostile_titles_on_home_are_escaped(sender, slack, tandem, workspace):
    file_direct(tandem, workspace.team_id, OPS, title="<!channel> 🎉 \u202eעברית & co")
    home = open_home(sender, slack, OPS)
    text = json.dumps(home, ensure_ascii=False)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; 🎉 \u202eעברית &amp; co" in text


def test_home_in_chinese(sender, slack, tandem, workspace):
    populate(tandem, workspace.team_id)
    home = open_home(sender, slack, OPS_ZH)
    assert home["blocks"][0]["text"]["text"] == "欢迎使用 Tandem"
    heading, items, _note = section(home, "mine")
    assert (heading, items) == ("*我提出的未完成需求* (1)", ["REQ-9"])
    assert section(home, "assigned") == ("*分配给我的* (0)", [], "目前没有分配给你的需求。")
    assert section(home, "triage") is None
    assert any(b["type"] == "header" and b["text"]["text"] == "需求" for b in home["blocks"])


def test_home_tabs_follow_each_change_without_being_reopened(sender, slack, tandem, workspace):
    from localslack.payloads import action
    from tests.requests.test_triage import card, card_shows

    request = file_quickly(tandem, workspace.team_id, OPS)
    tandem.settle()
    assert section(slack.views[OPS]["home"], "mine")[:2] == ("*My open requests* (1)", ["REQ-1"])
    sender.action(PM1, [action("request_accept")], message=card(slack, tandem, request))
    pick = [action("request_assign", type="users_select", selected_user=PM2)]
    sender.action(PM1, pick, message=card_shows(slack, tandem, request, "Accepted"))
    drained(lambda: f"<@{PM2}>" in str(card(slack, tandem, request)["blocks"]), "the owner on the card")
    sender.action(PM2, [action("request_start")], message=card(slack, tandem, request))
    tandem.settle()
    assert "In progress" in json.dumps(slack.views[OPS]["home"])  # rendered when sent: the latest state
    assert section(slack.views[PM2]["home"], "assigned")[:2] == ("*Assigned to me* (1)", ["REQ-1"])
    publishes = [c for c in slack.calls_to("views.publish") if c.ok]
    assert {c.args["user_id"] for c in publishes} == {OPS, PM2}  # the requester and the owner only
