"""Templates edited in Slack by the digest's owner: the modal holds the template's text (in fields
of Slack's 3,000 characters), a broken text stays in the modal with the line under the field that
holds it, a good one is saved as a version the digest then uses, history lists the versions and
revert puts one back (as a new version). The sandbox still applies. English and Chinese."""

from sqlmodel import select

from clock import utcnow
from localslack.payloads import state_value
from models.db import session_scope
from models.digests import Digest, DigestTemplate, digests, versions
from templates import sandbox
from tests.conftest import wait_until
from tests.digests.conftest import make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import all_text, posted
from tests.digests.test_metrics import refusal
from tests.outbox import drained
from tests.slack import ADMIN, ALICE, GENERAL

DEFAULT = (sandbox.DEFAULT_DIR / "default.yaml.j2").read_text(encoding="utf-8")


def open_editor(sender, slack, user: str = ADMIN) -> dict:
    slack.close_modals(user)  # the person closed the last one
    sender.command("/digest", "template edit weekly", user_id=user, channel_id=GENERAL)
    return wait_until(lambda: ((slack.views.get(user) or {}).get("modals") or [None])[-1],
                      message="the template modal")


def submit(sender, view: dict, *parts: str, user: str = ADMIN) -> dict | None:
    state = {f"part{i}": {f"part{i}": state_value("plain_text_input", part)} for i, part in enumerate(parts)}
    response = sender.view_submission(user, view, state)
    assert response.status == 200
    return (response.json() or {}).get("errors")


def fields(view: dict) -> list[str]:
    return [b["element"].get("initial_value", "") for b in view["blocks"] if b["type"] == "input"]


def saved(tandem) -> list[tuple]:
    with session_scope(tandem.engine) as session:
        return [(t.version, t.reverted_from, t.saved_by)
                for t in session.exec(select(DigestTemplate).order_by(DigestTemplate.version))]


def in_use(tandem) -> int | None:
    with session_scope(tandem.engine) as session:
        return session.exec(select(Digest.template_version)).one()


def test_the_owner_edits_the_template_checked_before_it_is_saved(sender, slack, tandem, lead):
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    make_digest(tandem.engine, slack.team_id)
    assert reply(sender, slack, "/digest", "template edit weekly", user=ALICE)["text"] == \
        refusal("digests.not_owner", name="weekly")
    view = open_editor(sender, slack)
    shown = fields(view)
    # the default's 5,666 characters in fields cut at line ends, and an empty one to grow into
    assert len(shown) >= 3 and shown[-1] == "" and "\n".join(shown[:-1]) == DEFAULT
    assert all(len(text) <= 3000 for text in shown)

    # A broken line in the second field: the error is under that field, with its line there.
    broken = "text: \"x\"\nblocks: []\n{# the second field follows #}"
    assert submit(sender, view, broken, "{% set a = 1 %}\n{{ nope.deeper }}") == {
        "part1": refusal("digests.template_broken", name="weekly", line=2,
                         error="UndefinedError: 'nope' is undefined")}
    assert submit(sender, view, "text: x\nblocks: []\n{{ ''.__class__ }}")["part0"].startswith(
        "Template weekly is broken at line 3: SecurityError: access to attribute '__class__'")  # the sandbox
    assert submit(sender, view, "", "") == {"part0": refusal("digests.template_empty")}
    assert saved(tandem) == [] and in_use(tandem) is None

    edited = shown[0].replace("_('%(name)s · week %(week)s'", "_('%(name)s · weekly numbers %(week)s'")
    assert edited != shown[0]
    assert submit(sender, view, edited, *shown[1:]) is None
    assert submit(sender, view, edited, *shown[1:]) is None  # Slack retrying the submission: nothing new
    assert saved(tandem) == [(1, None, ADMIN)] and in_use(tandem) == 1
    dm = drained(lambda: slack.messages(slack.dm_channel_of(ADMIN)), "the confirmation")
    assert [m["text"] for m in dm] == ["Template of weekly saved as version 1; the next digest uses it. "
                                       "Earlier versions: `/digest template history weekly`."]
    # What the digest now looks like, previewed and posted.
    assert reply(sender, slack, "/digest", "preview weekly")["text"].startswith("weekly · weekly numbers ")
    reply(sender, slack, "/digest", "send weekly now")
    [message] = posted(slack)
    assert message["text"].startswith("weekly · weekly numbers ") and "*DAU* Daily active users" in all_text(message)
    assert reply(sender, slack, "/digest", "template check weekly")["text"] == \
        "Template v1 of weekly renders the last period's data without problems."
    assert fields(open_editor(sender, slack))[0] == edited  # the editor opens on the version in use


def test_history_and_revert_in_english_and_chinese(sender, slack, tandem, lead):
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    make_digest(tandem.engine, slack.team_id)
    none_yet = reply(sender, slack, "/digest", "template history weekly")["blocks"][0]["text"]["text"]
    assert "None yet: the digest uses the template default." in none_yet
    first = "text: \"first {{ digest.name }}\"\nblocks: []"
    second = "text: \"second {{ period.label }}\"\nblocks: []"
    assert submit(sender, open_editor(sender, slack), first) is None
    assert submit(sender, open_editor(sender, slack), second) is None
    assert reply(sender, slack, "/digest", "template revert weekly 1")["text"] == \
        "Version 1 of the template of weekly is back in use, saved as version 3."
    assert saved(tandem) == [(1, None, ADMIN), (2, None, ADMIN), (3, 1, ADMIN)] and in_use(tandem) == 3
    assert reply(sender, slack, "/digest", "preview weekly")["text"] == "first weekly"
    assert reply(sender, slack, "/digest", "template revert weekly v3")["text"] == \
        "Version 3 is the template weekly uses already; nothing changed."
    assert reply(sender, slack, "/digest", "template revert weekly 9")["text"] == \
        refusal("digests.no_version", name="weekly", version="9")
    assert reply(sender, slack, "/digest", "template revert weekly 2", user=ALICE)["text"] == \
        refusal("digests.not_owner", name="weekly")
    assert reply(sender, slack, "/digest", "template frobnicate weekly")["text"] == refusal("digests.template_usage")
    listed = reply(sender, slack, "/digest", "template history weekly")["blocks"][0]["text"]["text"]
    lines = listed.split("\n")
    assert lines[0] == "*Template versions of weekly*"
    assert lines[1].startswith(f"• *v3* · _in use_ · <@{ADMIN}> · <!date^") and lines[1].endswith(" · revert of v1")
    assert lines[2].startswith(f"• *v2* · <@{ADMIN}> · ") and lines[3].startswith("• *v1* · ")
    assert lines[4] == "Put an earlier one back: `/digest template revert weekly VERSION`"


def test_editing_in_chinese(sender, slack, tandem, lead):
    slack.add_user(ADMIN, name="admin", locale="zh-CN", is_admin=True)
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    make_digest(tandem.engine, slack.team_id)
    view = open_editor(sender, slack)
    assert view["title"]["text"] == "摘要模板" and view["submit"]["text"] == "检查并保存"
    assert view["blocks"][1]["label"]["text"].startswith("模板（第 1 部分，共 ")
    assert submit(sender, view, "text: x\nblocks: []\n{{ nope }}")["part0"] == \
        "模板 weekly 在第 3 行出错：UndefinedError: 'nope' is undefined"
    assert submit(sender, view, "text: \"one\"\nblocks: []") is None
    assert submit(sender, open_editor(sender, slack), "text: \"two\"\nblocks: []") is None
    assert reply(sender, slack, "/digest", "template revert weekly 1")["text"] == \
        "weekly 的模板已恢复为第 1 版，并保存为第 3 版。"
    zh = reply(sender, slack, "/digest", "template history weekly")["blocks"][0]["text"]["text"]
    assert zh.startswith("*weekly 的模板版本*\n• *v3* · _使用中_ · ") and "恢复自 v1" in zh
    assert reply(sender, slack, "/digest", "template revert weekly 7")["text"] == \
        "weekly 的模板没有第 7 版；请查看 `/digest template history weekly`。"


def test_choosing_another_named_template_sets_the_edited_one_aside(engine):
    digest = make_digest(engine, "T1")
    with session_scope(engine) as session:
        assert versions.save(session, digest_id=digest.id, source="text: x\nblocks: []", actor=ADMIN,
                             actor_is_admin=False, now=utcnow()).version == 1
        assert versions.save(session, digest_id=digest.id, source="text: x\nblocks: []", actor=ADMIN,
                             actor_is_admin=False, now=utcnow()) is None  # the same text: no new version
    with session_scope(engine) as session:
        row = session.get(Digest, digest.id)
        same = Digest(**{k: getattr(row, k) for k in ("team_id", "name", "channel", "metrics", "template")}, owner="")
        digests.update_digest(session, digest_id=digest.id, changed=same, actor=ADMIN, actor_is_admin=False)
        assert row.template_version == 1  # other fields edited: the Slack-edited version stays
        same.template = "team"
        digests.update_digest(session, digest_id=digest.id, changed=same, actor=ADMIN, actor_is_admin=False)
        assert row.template_version is None and row.template == "team"


def test_deleting_a_digest_deletes_its_template_versions(engine):
    digest = make_digest(engine, "T1")
    with session_scope(engine) as session:
        versions.save(session, digest_id=digest.id, source="text: x\nblocks: []", actor=ADMIN, actor_is_admin=True,
                      now=utcnow())
    with session_scope(engine) as session:
        digests.delete_digest(session, digest=session.get(Digest, digest.id))
    with session_scope(engine) as session:
        assert session.exec(select(DigestTemplate)).all() == [] and session.exec(select(Digest)).all() == []
