"""What the /standup new|edit modal must hold, and the checks that run on submit."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.requests.forms import FormErrors

MAX_QUESTIONS, QUESTION_LENGTH, ANSWER_LENGTH, NAME_LENGTH = 10, 150, 2000, 80
MAX_NUDGES, MAX_PARTICIPANTS = 5, 2000
DEFAULT_QUESTIONS = ("What did you do yesterday?", "What will you do today?", "Anything blocking you?")
DEFAULT_DAYS = (0, 1, 2, 3, 4)
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

__all__ = ["FormErrors", "CleanStandup", "clean_standup_form", "parse_time", "parse_minutes"]


@dataclass
class CleanStandup:
    name: str
    channel: str
    participants: list[str]
    days: list[int]
    prompt_time: str
    timezone: str | None
    questions: list[dict]
    nudges: list[int] = field(default_factory=list)
    report_after: int = 120
    holidays: list[str] = field(default_factory=list)
    holiday_country: str | None = None


def parse_time(text: str | None) -> str | None:
    """"9:30" or "09:30" → "09:30"; anything else → None."""
    match = _TIME.match((text or "").strip())
    return f"{int(match[1]):02d}:{match[2]}" if match else None


def parse_minutes(text: str | None) -> list[int] | None:
    """"60, 90" → [60, 90]; None when a part is not a whole number of minutes."""
    parts = [p.strip() for p in re.split(r"[,\s]+", (text or "").strip()) if p.strip()]
    if not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def clean_standup_form(raw: dict) -> CleanStandup:
    """Raw modal values (block_id → value) → a clean standup, or FormErrors naming each bad block."""
    problems = FormErrors()
    name = (raw.get("name") or "").strip()
    if not name:
        problems.add("name", "form.required")
    elif len(name) > NAME_LENGTH or any(c.isspace() for c in name):
        problems.add("name", "standups.bad_name", limit=NAME_LENGTH)
    channel = raw.get("channel") or ""
    if not channel:
        problems.add("channel", "form.required")
    participants = list(dict.fromkeys(raw.get("participants") or []))
    if not participants:
        problems.add("participants", "standups.no_participants")
    elif len(participants) > MAX_PARTICIPANTS:
        problems.add("participants", "standups.too_many_participants", limit=MAX_PARTICIPANTS)
    days = sorted({int(d) for d in raw.get("days") or [] if str(d) in "0123456"})
    if not days:
        problems.add("days", "standups.no_days")
    prompt_time = parse_time(raw.get("prompt_time"))
    if prompt_time is None:
        problems.add("prompt_time", "standups.bad_time", given=raw.get("prompt_time") or "")
    timezone = None
    if (raw.get("zone_mode") or "team") == "team":
        timezone = (raw.get("timezone") or "").strip()
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add("timezone", "standups.bad_zone", given=timezone)
    questions = [line.strip() for line in (raw.get("questions") or "").splitlines() if line.strip()]
    if not questions:
        problems.add("questions", "standups.no_questions")
    elif len(questions) > MAX_QUESTIONS:
        problems.add("questions", "standups.too_many_questions", count=len(questions), limit=MAX_QUESTIONS)
    elif any(len(q) > QUESTION_LENGTH for q in questions):
        problems.add("questions", "standups.question_too_long", limit=QUESTION_LENGTH)
    blocker_last = "blocker" in (raw.get("blocker") or [])
    nudges = parse_minutes(raw.get("nudges"))
    report_after = parse_minutes(raw.get("report_after"))
    if report_after is None or len(report_after) != 1 or not 5 <= report_after[0] <= 720:
        problems.add("report_after", "standups.bad_report_after")
        report_after = [120]
    if nudges is None or len(nudges) > MAX_NUDGES or any(not 0 < n < report_after[0] for n in nudges):
        problems.add("nudges", "standups.bad_nudges", limit=MAX_NUDGES)
    holidays = []
    for part in re.split(r"[,\s]+", (raw.get("holidays") or "").strip()):
        if part:
            try:
                holidays.append(date.fromisoformat(part).isoformat())
            except ValueError:
                problems.add("holidays", "standups.bad_holiday", given=part)
    country = (raw.get("holiday_country") or "").strip().upper() or None
    if country and not is_holiday_country(country):
        problems.add("holiday_country", "standups.bad_country", given=country)
    if problems.errors:
        raise problems
    return CleanStandup(
        name=name, channel=channel, participants=participants, days=days, prompt_time=prompt_time,
        timezone=timezone,
        questions=[{"text": q, "blocker": blocker_last and i == len(questions) - 1} for i, q in enumerate(questions)],
        nudges=sorted(set(nudges)), report_after=report_after[0], holidays=sorted(set(holidays)),
        holiday_country=country,
    )


def is_holiday_country(code: str) -> bool:
    """"CN", "US", or a country and subdivision such as "DE-BY", as the holidays package knows them."""
    import holidays

    country, _, subdivision = code.partition("-")
    supported = holidays.list_supported_countries()
    return country in supported and (not subdivision or subdivision in supported[country])
