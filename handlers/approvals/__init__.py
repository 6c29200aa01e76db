"""Activity approvals in Slack: /approval, the approvers' cards, the config modal, the sweep job.

Requests hand activity requests over through their seam, handlers/requests/handover.py: this
package connects its chain, `running.route_filed` and `running.after_edit` to it at register.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.approvals import chains, deciding, finding, running, timers
from handlers.approvals.finding import home_context
from handlers.common import Services
from handlers.listeners import ack_with, command_listener
from handlers.requests import handover

__all__ = ["home_context", "job_sources", "register"]

def job_sources(services: Services) -> list:
    return [*timers.job_sources(services), *chains.warm_caches(services)]


def register(app: AsyncApp, services: Services) -> None:
    handover.connect(handover.Approvals(chain_for=chains.chain_for, route_filed=running.route_filed,
                                        after_edit=running.after_edit))
    if services.settings.approvals_file:
        chains.load_file(services.settings.approvals_file)  # a broken file stops Tandem at start, saying why

    app.command("/approval")(command_listener(  # uploads take a while: they answer later too
        services, usage_template="approvals/usage.yaml.j2", default="help",
        ack_then={"config": chains.open_config, "export": finding.export},
        ack_with={"delegate": timers.delegate, "show": finding.show, "pending": finding.pending}))

    app.view("approval_config")(ack_with(services, chains.submit_config))
    app.view("approval_config_form")(ack_with(services, chains.submit_form))

    deciding.register(app, services)
