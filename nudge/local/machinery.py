"""What the local runtime reads of moto's state directly, where AWS's own machinery (not our code)
would act: an event source mapping's poller seeing whether a queue has a visible message, Scheduler
checking and deleting a one-time schedule as it fires.

In AWS these cost our functions nothing and are not requests our code makes; played through boto3
they were a third of the demo's calls (receives on empty queues, a get and a delete per fired
schedule). Reading the backend directly keeps the behaviour — a receive on a queue with nothing
visible returns nothing and changes nothing in moto (retention and redrive act only on visible
messages) — and counts only what production would pay for.
"""

from __future__ import annotations

from typing import Any

from nudge.local.account import ACCOUNT, REGION


def _queue(queue_url: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][REGION].queues.get(queue_url.rsplit("/", 1)[-1])


def has_visible_message(queue_url: str) -> bool:
    """Whether a receive on the queue could return a message now (visible and not delayed)."""
    queue = _queue(queue_url)
    if queue is None:
        return True  # not moto's, or not created yet: let the receive itself answer
    return any(message.visible and not message.delayed for message in list(queue._messages))


def _schedules(group: str) -> dict[str, Any]:
    from moto.scheduler.models import scheduler_backends

    groups = scheduler_backends[ACCOUNT][REGION].schedule_groups
    return groups[group].schedules if group in groups else {}


def schedule_exists(group: str, name: str) -> bool:
    """Whether the one-time schedule is still there when it fires (erasure may have deleted it)."""
    return name in _schedules(group)


def delete_schedule(group: str, name: str) -> None:
    """Scheduler deleting a one-time schedule after completion (``ActionAfterCompletion=DELETE``)."""
    _schedules(group).pop(name, None)


def push_deliveries() -> int:
    """What SNS delivered to push endpoints (moto keeps each endpoint's messages)."""
    from moto.sns.models import sns_backends

    return sum(len(e.messages) for e in list(sns_backends[ACCOUNT][REGION].platform_endpoints.values()))


def messages_handed_over(inbox_table: str) -> int:
    """Messages the providers have taken so far: SES's sent count, SNS's deliveries to push endpoints,
    the in-app inbox's items (for the live progress line; the summary reads them the same way)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.ses.models import ses_backends

    ses = ses_backends[ACCOUNT][REGION].sent_message_count
    sns = push_deliveries()
    table = dynamodb_backends[ACCOUNT][REGION].tables.get(inbox_table)
    inbox = sum(len(p) if isinstance(p, dict) else 1 for p in list(table.items.values())) if table else 0
    return int(ses + sns + inbox)
