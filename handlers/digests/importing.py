"""/metric import with an uploaded CSV: a modal with a file input; on submit Tandem checks the
file's size, downloads it with the bot token (reading no more than the limit), imports it and
DMs the report (how many rows were accepted, and why each other row was refused)."""

from __future__ import annotations

import urllib.error
import urllib.request

from clock import utcnow
from handlers.common import Services, form_values
from handlers.digests.metric_commands import import_report, today_for
from handlers.listeners import Outcome
from models import keys
from models.db import session_scope
from models.digests import metrics
from models.errors import RuleError


def download(services: Services, url: str, *, limit: int) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {services.settings.slack_bot_token}"})
    try:
        with urllib.request.urlopen(request, timeout=services.settings.slack_timeout_seconds) as response:
            if response.headers.get_content_type() == "text/html":  # redirected to sign-in: no files:read
                raise RuleError("digests.csv_no_access")
            data = response.read(limit + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise RuleError("digests.csv_download", error=str(getattr(exc, "reason", exc))[:200]) from None
    if len(data) > limit:
        raise RuleError("digests.csv_too_big", size_mb=f"> {limit // 1048576}", limit_mb=limit // 1048576)
    return data


def submit_import(services: Services, body: dict) -> Outcome:
    """Inline errors for a missing, oversized or unreadable file; else the modal closes."""
    team_id, user_id = body["team"]["id"], body["user"]["id"]
    language = services.language_of(team_id, user_id)
    files = form_values(body["view"]).get("file") or []
    try:
        if not files:
            raise RuleError("digests.import_usage")
        size = int(files[0].get("size") or 0)
        if size > metrics.CSV_LIMIT:
            raise RuleError("digests.csv_too_big", size_mb=round(size / 1048576, 1),
                            limit_mb=metrics.CSV_LIMIT // 1048576)
        data = download(services, files[0].get("url_private_download") or files[0].get("url_private") or "",
                        limit=metrics.CSV_LIMIT)
        now = utcnow()
        today = today_for(services, team_id, now)
        with session_scope(services.engine) as session:
            report = metrics.import_csv(session, team_id=team_id, actor=user_id, data=data, today=today, now=now)
    except RuleError as error:
        return Outcome.refused(error, language=language, block="file")
    message = import_report(report, language=language)
    with session_scope(services.engine) as session:
        services.delivery.queue(session, key=keys.metric_import_report(body["view"]["id"]), team_id=team_id,
                                method="chat.postMessage", now=utcnow(), channel=user_id, text=message["text"],
                                blocks=message["blocks"])
    services.delivery.kick()
    return Outcome()
