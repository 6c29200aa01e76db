"""A sync Bolt `App` that only acks /tandem, as WSGI: gunicorn -k gthread bench.bare.sync_app:application"""

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult

from bench.bare import ACK_TEXT, AUTH, SIGNING_SECRET


def authorize() -> AuthorizeResult:
    return AUTH


app = App(signing_secret=SIGNING_SECRET, authorize=authorize, name="bare-sync")


@app.command("/tandem")
def tandem(ack):
    ack(ACK_TEXT)


application = SlackRequestHandler(app)
