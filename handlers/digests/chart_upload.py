"""The digest's chart into Slack without sharing it, so the digest message can show it in an image
block (`slack_file: {id}`) and the numbers and the picture arrive together.

    files.getUploadURLExternal → POST the PNG to the upload URL → files.completeUploadExternal with
    no channel (the file stays private to the bot: nothing is posted) → files.info until Slack has
    processed it → the digest message, queued with the image block.

Exactly once across retries, lost replies and a crash: the file id is stored on the send's row as
soon as Slack gave it, and every later attempt first asks files.info whether that file was
completed (a lost reply of completeUploadExternal, a run resumed after a crash) before uploading
anything. Repeating the first two steps only leaves an upload that was never completed, which
Slack discards and nobody sees. The message itself goes through the outbox under the send's key.

Anything that fails gives None: the digest then goes out as text only.

Slack finishes an upload asynchronously: for a moment the file has no mimetype and a message whose
image block names it is refused as invalid_blocks ("invalid slack file"); polling files.info is
the way to wait (https://github.com/slackapi/slack-github-action/issues/413; the slack_file object:
https://docs.slack.dev/reference/block-kit/composition-objects/slack-file-object).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request

from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.common import Services
from models.db import session_scope
from models.digests import DigestSend

log = logging.getLogger("tandem.digests")
# Seconds between files.info checks while Slack processes the file: about 12 s in all, then the
# digest goes out as text rather than wait longer (a scheduled send should not stall).
READY_CHECKS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)
UPLOAD_TIMEOUT = 10


def upload_chart(services: Services, send_id: int, *, png: bytes, filename: str, title: str,
                 alt: str) -> str | None:
    """The id of the chart's file once Slack can show it, or None (then the digest is text only)."""
    try:
        file_id = _completed_file(services, send_id)
        if file_id is None:
            file_id = _upload(services, send_id, png=png, filename=filename, title=title, alt=alt)
        if file_id is None or not _ready(services, file_id):
            log.warning("digest send %s: chart %s not ready in time; text only", send_id, file_id)
            return None
    except (SlackClientError, OSError) as exc:  # SlackApiError included: refused, or no answer
        log.warning("digest send %s: chart upload failed (%r); text only", send_id, exc)
        return None
    with session_scope(services.engine) as session:
        row = session.get(DigestSend, send_id)
        row.chart_uploaded = True
        session.add(row)
    return file_id


def _info(services: Services, file_id: str) -> dict | None:
    """The file as Slack has it, None when it was never completed (file_not_found)."""
    try:
        return services.delivery.call("files.info", file=file_id)["file"]
    except SlackApiError as exc:
        if exc.response.get("error") == "file_not_found":
            return None
        raise


def _completed_file(services: Services, send_id: int) -> str | None:
    """The file an earlier attempt for this send completed, if any."""
    with session_scope(services.engine) as session:
        file_id = session.get(DigestSend, send_id).chart_file_id
    return file_id if file_id and _info(services, file_id) is not None else None


def _upload(services: Services, send_id: int, *, png: bytes, filename: str, title: str, alt: str) -> str | None:
    answer = services.delivery.call("files.getUploadURLExternal", filename=filename, length=len(png), alt_txt=alt)
    file_id = answer["file_id"]
    with session_scope(services.engine) as session:  # kept before completing: a retry looks for it first
        row = session.get(DigestSend, send_id)
        row.chart_file_id = file_id
        session.add(row)
    request = urllib.request.Request(answer["upload_url"], data=png, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT) as response:  # noqa: S310 (Slack's URL)
        response.read()
    try:  # no channel: the file is not shared anywhere; the digest's image block shows it
        services.delivery.call("files.completeUploadExternal", files=[{"id": file_id, "title": title}])
    except (SlackClientError, OSError) as exc:
        # A lost reply may hide a completed upload (and a refusal a completed first attempt):
        # Slack knows which. Not completed: text only; completing again could not be told apart.
        if _info(services, file_id) is None:
            log.warning("digest send %s: completing the chart failed (%r)", send_id, exc)
            return None
    return file_id


def _ready(services: Services, file_id: str) -> bool:
    """Whether Slack has processed the file (it has a mimetype), checking with a growing pause."""
    for pause in (0, *READY_CHECKS):
        time.sleep(pause)
        info = _info(services, file_id)
        if info is not None and info.get("mimetype"):
            return True
    return False
