"""An `AsyncApp` that only acks /tandem, as ASGI: uvicorn bench.bare.async_app:api"""

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bench.bare import ACK_TEXT, AUTH, SIGNING_SECRET


async def authorize() -> AuthorizeResult:
    return AUTH


app = AsyncApp(signing_secret=SIGNING_SECRET, authorize=authorize, name="bare-async")


@app.command("/tandem")
async def tandem(ack):
    await ack(ACK_TEXT)


api = AsyncSlackRequestHandler(app)
