"""Activity approvals in Slack: /approval, the approvers' cards, the config modal, the sweep job.

Filing (handlers/requests/filing.py) hands activity requests to `running.route_filed` when a
chain is configured, and a requester's edit to `running.after_edit`.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.approvals import chains, deciding, finding, running, timers  # noqa: F401  (running: for filing)
from handlers.common import Services
from handlers.listeners import outcome_listener, subcommand_listener

# /approval subcommand → (function, acks first?): modals and uploads ack at once and answer later.
SUBCOMMANDS = {
    "config": (chains.open_config, True),
    "export": (finding.export, True),
    "delegate": (timers.delegate, False),
    "show": (finding.show, False),
    "pending": (finding.pending, False),
}


def job_sources(services: Services) -> list:
    return timers.job_sources(services)


def register(app: AsyncApp, services: Services) -> None:
    if services.settings.approvals_file:
        chains.load_file(services.settings.approvals_file)  # a broken file stops Tandem at start, saying why

    app.command("/approval")(subcommand_listener(
        services, subcommands=SUBCOMMANDS, usage_template="approvals/usage.yaml.j2", default="help"))

    app.view("approval_config")(outcome_listener(services, chains.submit_config))
    app.view("approval_config_form")(outcome_listener(services, chains.submit_form))

    deciding.register(app, services)
