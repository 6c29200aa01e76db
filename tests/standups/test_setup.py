"""/standup new (the modal and its checks), list, and the help text, end to end."""

from sqlmodel import select

from localslack.payloads import state_value
from models.db import session_scope
from models.standups import Standup
from tests.conftest import assert_replay_changes_nothing, wait_until
from tests.outbox import drained
from tests.standups.conftest import BERLIN, NY, OWNER, REPORT, SHANGHAI

TEXT = "plain_text_input"


def command_modal(sender, slack, user_id, text="new", **kwargs):
    """Send a /standup command and return the modal it opened."""
    before = len([c for c in slack.calls_to("views.open") if c.ok])
    sender.command("/standup", text, user_id=user_id, **kwargs)
    wait_until(lambda: len([c for c in slack.calls_to("views.open") if c.ok]) > before, message="a modal")
    return slack.views[user_id]["modals"][-1]


def values(**overrides):
    raw = {"name": (TEXT, "app-team"), "channel": ("conversations_select", REPORT),
           "participants": ("multi_users_select", [OWNER, NY, BERLIN]), "days": ("checkboxes", ["0", "1", "2", "3", "4"]),
           "prompt_time": (TEXT, "09:30"), "zone_mode": ("radio_buttons", "team"), "timezone": (TEXT, "Europe/Berlin"),
           "questions": (TEXT, "Yesterday?\nToday?\nBlockers?"), "blocker": ("checkboxes", ["blocker"]),
           "nudges": (TEXT, "60"), "report_after": (TEXT, "120"), "holidays": (TEXT, "2026-12-25"),
           "holiday_country": (TEXT, "de-by")}
    raw.update(overrides)
    return {block: {"value": state_value(kind, value)} for block, (kind, value) in raw.items()}


def standups(tandem):
    with session_scope(tandem.engine) as session:
        return list(session.exec(select(Standup).order_by(Standup.id)))


def test_new_standup_through_the_modal(sender, slack, tandem, people):
    view = command_modal(sender, slack, OWNER, channel_id=REPORT)
    assert view["callback_id"] == "standup_setup"
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert "What did you do yesterday?" in blocks["questions"]["element"]["initial_value"]
    response = sender.view_submission(OWNER, view, values())
    assert response.status == 200 and response.text in ("", "{}")
    [standup] = standups(tandem)
    assert (standup.name, standup.owner, standup.channel, standup.timezone) == ("app-team", OWNER, REPORT,
                                                                                "Europe/Berlin")
    assert standup.participants == [OWNER, NY, BERLIN] and standup.days == [0, 1, 2, 3, 4]
    assert [q["blocker"] for q in standup.questions] == [False, False, True]
    assert standup.nudges == [60] and standup.report_after == 120 and standup.holidays == ["2026-12-25"]
    assert standup.holiday_country == "DE-BY"
    drained(lambda: standups(tandem)[0].names[NY] == "Nick York", "names learnt after the ack")
    saved = drained(lambda: slack.messages(OWNER), "the saved DM")[0]
    assert "Standup app-team is saved" in saved["text"]


def test_bad_input_is_refused_inline_and_nothing_is_saved(sender, slack, tandem, people):
    view = command_modal(sender, slack, OWNER)
    bad = values(prompt_time=(TEXT, "25:61"), participants=("multi_users_select", []),
                 timezone=(TEXT, "Mars/Olympus"), questions=(TEXT, "\n".join(f"Q{i}?" for i in range(11))),
                 nudges=(TEXT, "soon"), holidays=(TEXT, "2026-13-45"), holiday_country=(TEXT, "XX"))
    errors = sender.view_submission(OWNER, view, bad).json()["errors"]
    assert errors == {
        "prompt_time": "“25:61” is not a time; write it as HH:MM, e.g. 09:30.",
        "participants": "Choose at least one participant.",
        "timezone": "“Mars/Olympus” is not a time zone Tandem knows; use an IANA name such as Asia/Shanghai.",
        "questions": "11 questions; at most 10 are allowed.",
        "nudges": "Up to 5 whole numbers of minutes, each before the report time.",
        "holidays": "“2026-13-45” is not a date; write YYYY-MM-DD.",
        "holiday_country": "“XX” is not a country code Tandem knows, e.g. CN, US, DE or DE-BY.",
    }
    assert standups(tandem) == []


def test_a_report_channel_without_tandem_is_refused(sender, slack, tandem, people):
    slack.add_channel("C0NOBOT", "no-bot", members=[OWNER], bot_is_member=False)
    view = command_modal(sender, slack, OWNER)
    errors = sender.view_submission(OWNER, view, values(channel=("conversations_select", "C0NOBOT"))).json()
    assert errors["errors"] == {"channel": "Tandem is not in that channel. Invite it there first (/invite @Tandem)."}
    assert standups(tandem) == []


def test_refused_for_a_channel_without_tandem_then_the_same_values_once_it_is_invited(sender, slack, tandem,
                                                                                       people):
    slack.add_channel("C0NOBOT", "no-bot", members=[OWNER], bot_is_member=False)
    view = command_modal(sender, slack, OWNER)
    state = values(channel=("conversations_select", "C0NOBOT"))
    assert "errors" in sender.view_submission(OWNER, view, state).json()
    slack.add_member("C0NOBOT", slack.bot_user_id)  # /invite @Tandem; the user submits the same values again
    saved = sender.view_submission(OWNER, view, state)
    assert saved.text in ("", "{}") and [s.channel for s in standups(tandem)] == ["C0NOBOT"]
    assert_replay_changes_nothing(tandem, slack, sender, saved)


def test_a_replayed_edit_saves_once_and_tells_once(sender, slack, tandem, people):
    sender.view_submission(OWNER, command_modal(sender, slack, OWNER), values())
    view = command_modal(sender, slack, OWNER, text="edit app-team")
    edited = sender.view_submission(OWNER, view, values(prompt_time=(TEXT, "10:15")))
    assert_replay_changes_nothing(tandem, slack, sender, edited)
    assert [s.prompt_time for s in standups(tandem)] == ["10:15"]


def test_duplicate_names_are_refused_in_the_users_language(sender, slack, tandem, people):
    sender.view_submission(OWNER, command_modal(sender, slack, OWNER), values())
    view = command_modal(sender, slack, SHANGHAI)
    errors = sender.view_submission(SHANGHAI, view, values(name=(TEXT, "App-Team"))).json()
    assert errors["errors"] == {"name": "已有名为 App-Team 的站会；请换一个名称。"}
    assert len(standups(tandem)) == 1


def test_list_shows_every_standup_with_its_next_prompt(sender, slack, tandem, people):
    assert "No standups yet" in sender.command("/standup", "list", user_id=NY).json()["text"] + str(
        sender.command("/standup", "list", user_id=NY).json()["blocks"])
    sender.view_submission(OWNER, command_modal(sender, slack, OWNER), values())
    sender.view_submission(OWNER, command_modal(sender, slack, OWNER), values(name=(TEXT, "zz-each"),
                                                                              zone_mode=("radio_buttons", "member")))
    body = sender.command("/standup", "list", user_id=NY).json()
    lines = [b["text"]["text"] for b in body["blocks"]]
    assert lines[0].startswith("*app-team* · <#C0STANDUP> · 3 people · 09:30 Europe/Berlin\nNext prompt: <!date^")
    assert lines[1].startswith("*zz-each*") and "each person’s zone" in lines[1]


def test_list_counts_people_in_each_language(sender, slack, tandem, people):
    sender.view_submission(OWNER, command_modal(sender, slack, OWNER), values(
        name=(TEXT, "solo"), participants=("multi_users_select", [NY])))
    sender.view_submission(OWNER, command_modal(sender, slack, OWNER), values(name=(TEXT, "trio")))
    english = [b["text"]["text"] for b in sender.command("/standup", "list", user_id=NY).json()["blocks"]]
    assert english[0].startswith("*solo* · <#C0STANDUP> · 1 person · ")
    assert english[1].startswith("*trio* · <#C0STANDUP> · 3 people · ")
    chinese = [b["text"]["text"] for b in sender.command("/standup", "list", user_id=SHANGHAI).json()["blocks"]]
    assert chinese[0].startswith("*solo* · <#C0STANDUP> · 1 人 · ")
    assert chinese[1].startswith("*trio* · <#C0STANDUP> · 3 人 · ")


def test_help_and_unknown_subcommands(sender, slack, tandem, people):
    body = sender.command("/standup", "frobnicate", user_id=NY).json()
    assert "`/standup` has no subcommand `frobnicate`." in str(body["blocks"])
    assert "/standup away" in str(sender.command("/standup", "", user_id=NY).json()["blocks"])
