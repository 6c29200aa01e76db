"""Before an ack: the Web API reads whose answer goes into it, bounded together.

Slack waits 3 seconds for an ack (https://docs.slack.dev/interactivity/handling-user-interaction),
and a modal submission's ack carries its answer (`response_action`: inline errors, or none to
close the modal), so what that answer needs from Slack (the user's zone and language, who is in
an approvers' user group, whether an approver exists) must be known before the ack. Those reads
come from caches filled ahead of time (the members table, the user-group cache, refreshed in the
background and by the scheduler); when a cache has nothing, Slack is asked, and all such asks of
one ack share ACK_BUDGET (0.8 s) counted from the moment the work began. An ask that has not been
answered by then carries on in the background (its answer fills the cache for the next time) and
the caller falls back: what it knew before, the workspace's defaults, or a clear "Slack is slow,
try again" under the form. Outside `before_ack` work nothing is bounded here.

Why 0.8 s: a submission's ack must stay under 1 s (bench/interactions.py's target; Slack allows 3 s):
0.8 s of waiting on Slack plus the submission's own database and template work (~0.1 s). Slack's
median answer is ~0.1 s, so a cold cache is filled within the budget ~95 % of the time (its
lognormal p99 is 1.5 s), and a slower answer still fills the cache for the next submission.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

log = logging.getLogger("tandem.ack_budget")
T = TypeVar("T")

ACK_BUDGET = 0.8  # seconds, for all the Web API reads made before one ack

_local = threading.local()
# Reads that outlive their budget finish here, and background refreshes run here: apart from the
# listeners' pool, so that a slow Slack never takes the threads acks are waiting for.
_readers = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="tandem-slack-read")
_in_flight: dict[Hashable, concurrent.futures.Future] = {}
_in_flight_lock = threading.Lock()


class SlackSlow(Exception):
    """Slack did not answer a read within what was left of the ack budget (it goes on in the background)."""


def before_ack(fn: Callable[..., T], *, in_ack: bool = True) -> Callable[..., T]:
    """`fn`, run with the ack budget: the Web API reads it makes through `read` share ACK_BUDGET.
    in_ack=False: work after the ack that may open a modal (its trigger_id lives 3 s): reads fall
    back to what is known the same way, but what cannot be done without Slack's answer waits for it
    (`answer_in_ack` says which) instead of refusing."""

    @functools.wraps(fn)
    def within_budget(*args, **kwargs):
        _local.deadline, _local.in_ack = time.monotonic() + ACK_BUDGET, in_ack
        try:
            return fn(*args, **kwargs)
        finally:
            _local.deadline = _local.in_ack = None

    return within_budget


def answer_in_ack() -> bool:
    """Does this work's answer go into the ack (so a slow Slack must end in a refusal, not a wait)?"""
    return bool(getattr(_local, "in_ack", None))


def left() -> float | None:
    """Seconds left of this thread's ack budget; None when this work is not before an ack."""
    deadline = getattr(_local, "deadline", None)
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _start(key: Hashable, fn: Callable[..., T], *args, **kwargs) -> concurrent.futures.Future:
    """One ask of Slack per key at a time: many acks needing the same user share one call."""
    with _in_flight_lock:
        future = _in_flight.get(key)
        if future is None:
            future = _in_flight[key] = _readers.submit(fn, *args, **kwargs)
            future.add_done_callback(lambda done: _forget(key, done))
        return future


def _forget(key: Hashable, future: concurrent.futures.Future) -> None:
    with _in_flight_lock:
        if _in_flight.get(key) is future:
            del _in_flight[key]
    if not future.cancelled() and future.exception() is not None:
        log.info("a Slack read in the background failed (%r): the next ask tries again", future.exception())


def read(key: Hashable, fn: Callable[..., T], *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` (a Web API read, which should also fill its cache), bounded by what is
    left of the ack budget; raises SlackSlow when that runs out. Unbounded outside `before_ack`."""
    remaining = left()
    if remaining is None:
        return fn(*args, **kwargs)
    future = _start(key, fn, *args, **kwargs)
    try:
        return future.result(timeout=remaining)
    except concurrent.futures.TimeoutError:
        raise SlackSlow(key) from None


def wait_for(key: Hashable, fn: Callable[..., T], *args, **kwargs) -> T:
    """The answer of the read under way for `key` (or of a new one), however long it takes."""
    return _start(key, fn, *args, **kwargs).result()


def refresh(key: Hashable, fn: Callable[..., object], *args, **kwargs) -> None:
    """Run `fn` in the background (a cache refresh nobody waits for), unless it already runs."""
    _start(key, fn, *args, **kwargs)


# When each trigger_id reached us (monotonic), so that work that waited for a worker past Slack's
# 3 seconds answers "try again" at once instead of calling views.open in vain.
_triggers: dict[str, float] = {}
TRIGGERS_KEPT = 2000


def note_trigger(body: dict) -> None:
    """Called on the event loop when a payload with a trigger_id arrives, before the ack."""
    trigger_id = body.get("trigger_id")
    if not trigger_id:
        return
    if len(_triggers) >= TRIGGERS_KEPT:  # keep the newest half (dicts keep arrival order)
        for old in list(_triggers)[: TRIGGERS_KEPT // 2]:
            _triggers.pop(old, None)
    _triggers[trigger_id] = time.monotonic()


def trigger_age(trigger_id: str) -> float | None:
    """Seconds since the payload carrying this trigger_id arrived (None: not noted here)."""
    arrived = _triggers.get(trigger_id)
    return None if arrived is None else time.monotonic() - arrived
