"""A sync Bolt `App` that only acks /tandem, served over ASGI: uvicorn bench.bare.sync_asgi:api

slack_bolt.adapter.asgi.SlackRequestHandler calls the sync app.dispatch() on the event loop,
so each request blocks the loop until its listener has acked (bench/ack.py measures it).
"""

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult

from bench.bare import ACK_TEXT, AUTH, SIGNING_SECRET


def authorize() -> AuthorizeResult:
    return AUTH


app = App(signing_secret=SIGNING_SECRET, authorize=authorize, name="bare-sync-asgi")


@app.command("/tandem")
def tandem(ack):
    ack(ACK_TEXT)


api = SlackRequestHandler(app)
