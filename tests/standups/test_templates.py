"""Every standup template renders valid Block Kit in both languages, even at the limits: ten long
questions, answers of 2,000 characters that escape to five times their length, 2,000 people."""

import pytest

from templates import render

NASTY = "<!channel> & “quotes” \"x\" \\ 中文 " * 60
QUESTIONS = [f"Question {i} " + "q" * 135 for i in range(10)]


def entry(i, blocker=False, status="answered"):
    return {"user": f"U{i}", "name": f"{NASTY[:60]} {i}", "status": status, "blocker": blocker,
            "answers": [("&" * 2000) for _ in QUESTIONS], "late": i % 2 == 0}


def report(people, threaded, final=True):
    entries = [entry(i, blocker=i % 2 == 0) for i in range(min(people, 20 if not threaded else people))]
    return {"name": "x" * 80, "date": "2026-03-09", "questions": QUESTIONS, "total": people,
            "answered": len(entries), "skipped": 0, "away": [f"Away {i} &&&" for i in range(people)],
            "missing": [f"Missing {i} <@U1>" for i in range(people)], "final": final,
            "blockers": len(entries) // 2, "entries": entries, "threaded": threaded}


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_reports_fit_slacks_limits(language):
    small = render("standups/report.yaml.j2", language=language, r=report(20, threaded=False))
    assert len(small["blocks"]) <= 50
    big = render("standups/report.yaml.j2", language=language, r=report(2000, threaded=True))
    assert len(big["blocks"]) <= 50
    assert "<!channel>" not in str(small) and "<@U1>" not in str(big)  # typed markup never pings
    reply = render("standups/answer_reply.yaml.j2", language=language, e=entry(1, True), questions=QUESTIONS)
    assert len(reply["blocks"]) == 11


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_modals_dms_and_lists_fit(language):
    render("standups/answer_modal.yaml.j2", language=language, name=NASTY[:80], date="2026-03-09",
           questions=QUESTIONS, hints=["h" * 140] * 10, values=["&" * 2000] * 10, limit=2000, metadata="{}")
    render("standups/setup_modal.yaml.j2", language=language, mode="edit", max_questions=10, metadata="{}",
           v={"name": "n", "channel": "C1", "participants": ["U1"] * 100, "days": [0, 6], "prompt_time": "09:30",
              "zone_mode": "member", "timezone": "", "questions": "\n".join(QUESTIONS), "blocker": True,
              "nudges": "30, 60", "report_after": "120", "holidays": ", ".join(["2026-12-25"] * 100),
              "holiday_country": "DE-BY"})
    render("standups/prompt.yaml.j2", language=language, nudge=True, name=NASTY[:80], channel="C1", run_id=1,
           date="2026-03-09", report_at="2026-03-09T11:30:00+00:00")
    rows = [{"name": "n", "date": "2026-03-09", "status": "answered", "blocker": True, "late": True,
             "answers": ["&" * 2000] * 10, "questions": QUESTIONS}] * 40
    render("standups/history.yaml.j2", language=language, rows=rows, user="U1", days=14)
    people = [{"user": f"U{i}", "name": NASTY[:80], "expected": 3, "answered": 2, "on_time": 1, "skipped": 1,
               "blockers": 1, "participation": 67, "on_time_rate": 50} for i in range(100)]
    render("standups/stats.yaml.j2", language=language, days=30,
           s={"name": "n", "since": "2026-03-01", "days": 3, "people": people, "total": people[0]})
    listing = [{"name": "n" * 80, "channel": "C1", "owner": "U1", "paused": i % 2, "time": "09:30", "zone": None,
                "people": 2000, "next": 1770000000} for i in range(100)]
    assert len(render("standups/list.yaml.j2", language=language, rows=listing)["blocks"]) <= 50
