"""An `AsyncApp` that acks every command, click, submission and event and does nothing else, as
ASGI: uvicorn bench.bare.ack_all:api. bench/interactions.py replays Tandem's payloads against it."""

import re

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bench.bare import AUTH, SIGNING_SECRET


async def authorize() -> AuthorizeResult:
    return AUTH


app = AsyncApp(signing_secret=SIGNING_SECRET, authorize=authorize, name="bare-ack-all")
EVERYTHING = re.compile(".*")


async def just_ack(ack):
    await ack()


async def nothing():
    return None


app.command(EVERYTHING)(just_ack)
app.action(EVERYTHING)(just_ack)
app.view(EVERYTHING)(just_ack)
app.event(EVERYTHING)(nothing)  # Bolt acks events itself

api = AsyncSlackRequestHandler(app)
