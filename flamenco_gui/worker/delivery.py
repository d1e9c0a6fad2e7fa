"""Sends the outbox to the manager, one message at a time, strictly in order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from flamenco_gui.worker.client import Backoff, ManagerClient, ManagerUnreachable
from flamenco_gui.worker.outbox import Outbox

log = logging.getLogger(__name__)

# Called with (task_id, lease) when the manager refuses a task run's reports.
OnRejected = Callable[[int, int], Awaitable[None]]


async def deliver_forever(outbox: Outbox, client: ManagerClient, on_rejected: OnRejected) -> None:
    """Deliver until cancelled.

    - 2xx: delivered, next one.
    - 409/404: the task is no longer this worker's (canceled, requeued, deleted): drop
      all of that run's reports and tell the agent, which kills it if it still runs.
    - unreachable, 5xx, 408, 429 (too slow, over a manager's hold limit: passing):
      keep the message, back off, try again; order matters more
      than latency, and a final status must not be lost.
    - any other 4xx: the manager will never accept it; log it loudly and drop it, so
      one malformed report cannot block every later one.
    """
    backoff = Backoff()
    while True:
        message = await outbox.next()
        try:
            reply = await client.call(message.method, message.path, message.payload)
        except ManagerUnreachable as exc:
            log.debug("delivery postponed: %s", exc)
            await backoff.sleep()
            continue
        if reply.ok:
            backoff.reset()
            outbox.ack(message.seq)
        elif reply.status in (404, 409):
            dropped = outbox.drop_task(message.task_id, message.lease)
            log.warning(
                "manager refused reports for task %d (lease %d): %s; dropped %d",
                message.task_id,
                message.lease,
                reply.error,
                dropped,
            )
            await on_rejected(message.task_id, message.lease)
        elif reply.status >= 500 or reply.status in (408, 429):
            log.warning(
                "manager answered %s to %s %s; retrying", reply.error, message.method, message.path
            )
            await backoff.sleep()
        else:
            log.error(
                "manager rejected %s %s (%s): %s; dropping it",
                message.method,
                message.path,
                message.kind,
                reply.error,
            )
            outbox.ack(message.seq)
