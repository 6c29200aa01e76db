"""./tandem outbox list|retry|drop: the failed messages from the shell (what /tandem outbox shows admins).

    ./tandem outbox list              every failed message: id, team, key, call, destination, error
    ./tandem outbox retry ID… | all   queue them again now (a running Tandem sends them at its next sweep)
    ./tandem outbox drop ID… | all    give them up

A retry or drop changes only a message that is still failed, so running it twice does nothing more.
"""

from __future__ import annotations

import argparse

from clock import utcnow
from models import outbox
from models.db import make_engine, session_scope

EVERYTHING = 10_000  # `all` means every failed message; more than this is listed in pages by running again


def add_parser(sub) -> None:
    parser = sub.add_parser("outbox", help="list, retry or drop the messages that failed for good")
    parser.add_argument("action", choices=["list", "retry", "drop"])
    parser.add_argument("ids", nargs="*", help="message ids from `list`, or `all`")


def run(args: argparse.Namespace, database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        if args.action == "list":
            return list_failed(engine)
        if not args.ids:
            print(f"Say which messages: ./tandem outbox {args.action} ID [ID …] or ./tandem outbox {args.action} all")
            return 2
        return change(engine, args.action, args.ids)
    finally:
        engine.dispose()


def list_failed(engine) -> int:
    with session_scope(engine) as session:
        rows = outbox.failed_messages(session, limit=EVERYTHING)
        lines = [f"{row.id}\t{row.team_id}\t{row.key}\t{row.method}\t{(row.args or {}).get('channel') or ''}\t"
                 f"{row.attempts}\t{row.created_at:%Y-%m-%d %H:%M}Z\t{row.last_error or ''}" for row in rows]
    if not lines:
        print("No message failed.")
        return 0
    print("id\tteam\tkey\tmethod\tto\tattempts\tqueued\terror")
    print("\n".join(lines))
    print(f"{len(lines)} failed. Retry: ./tandem outbox retry ID … | all; drop: ./tandem outbox drop ID … | all")
    return 0


def change(engine, action: str, given: list[str]) -> int:
    if given == ["all"]:
        with session_scope(engine) as session:
            ids = [row.id for row in outbox.failed_messages(session, limit=EVERYTHING)]
    elif all(item.isdigit() for item in given):
        ids = [int(item) for item in given]
    else:
        print(f"Message ids are numbers (see ./tandem outbox list), or `all`; got: {' '.join(given)}")
        return 2
    changed, gone = 0, []
    for message_id in ids:
        with session_scope(engine) as session:
            done = outbox.retry_failed(session, message_id=message_id, now=utcnow()) if action == "retry" \
                else outbox.drop_failed(session, message_id=message_id)
        changed += done
        if not done:
            gone.append(str(message_id))
    verb = "queued again" if action == "retry" else "dropped"
    print(f"{changed} {verb}." + (f" Not failed (any more), left as they are: {', '.join(gone)}." if gone else ""))
    return 0 if not gone else 1
