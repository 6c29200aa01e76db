"""Bare Bolt apps that only ack `/tandem`: the baseline bench/ack.py compares Tandem with.

Each reads BENCH_SIGNING_SECRET from the environment, verifies request signatures, and
authorizes with a fixed AuthorizeResult, so no request ever reaches Slack's Web API.
"""

import os

from slack_bolt.authorization import AuthorizeResult

SIGNING_SECRET = os.environ.get("BENCH_SIGNING_SECRET", "")
if not SIGNING_SECRET:
    raise RuntimeError("set BENCH_SIGNING_SECRET (bench/ack.py does) to the secret the load signs with")

ACK_TEXT = "Tandem (bare ack)"
AUTH = AuthorizeResult(enterprise_id=None, team_id="T0BENCH01", bot_token="xoxb-bench-bare-token",
                       bot_id="B0BENCH01", bot_user_id="U0BENCHBOT")
