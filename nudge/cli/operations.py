"""Operating a deployed stack or a local run: ``why``, ``report``, ``erase``, ``dlq list|redrive``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from nudge.cli.common import (
    CAMPAIGNS,
    app,
    console,
    load_catalog,
    parse_since,
)
from nudge.cli.tables.operations import print_dead_letters, print_erasure, print_journey_path, print_why
from nudge.cli.tables.report import print_report, write_html_report
from nudge.operations import DeployedStack, SourceMissing, journey_path, open_source, with_open_claims
from shared.deployment import topology

T = TypeVar("T")


def read(what: Callable[[], T]) -> T:
    """Read from the operations source; a missing dump or stack output is a one-line error."""
    try:
        return what()
    except SourceMissing as missing:
        typer.echo(str(missing), err=True)
        raise typer.Exit(1) from None


@app.command()
def why(
    user_id: Annotated[str, typer.Argument(help="The shopper's user id.")],
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's decisions.")] = None,
    store: Annotated[
        Path, typer.Option(help="A local store left by `nudge demo` (ignored with --stack).")
    ] = Path("demo-out/store"),
    stack: Annotated[
        str | None, typer.Option(help="Read the deployed stack's send log instead (AWS credentials).")
    ] = None,
) -> None:
    """Every delivery decision for one shopper, in time order, with its reason.

    Example: nudge why u00042 --campaign weekend-sale-sea
    """
    source = read(lambda: open_source(stack, store))
    entries = read(lambda: with_open_claims(user_id, source.decisions(user_id), source.claims(user_id)))
    entries = [e for e in entries if campaign is None or e["campaign_id"] == campaign]
    instance = read(lambda: source.journey(user_id, campaign)) if campaign else None
    if instance is not None:
        print_journey_path(instance, journey_path(instance, entries))
    if not entries:
        console.print(f"no decisions logged for {user_id}" + (f" in {campaign}" if campaign else ""))
        raise typer.Exit(0)
    print_why(user_id, entries)


@app.command()
def report(
    since: Annotated[
        str | None, typer.Option(help="Only decisions from this date on (YYYY-MM-DD or ISO-8601, UTC).")
    ] = None,
    html: Annotated[Path | None, typer.Option(help="Also write the report as one static HTML file.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON.")] = None,
    store: Annotated[
        Path, typer.Option(help="A local store left by `nudge demo` (ignored with --stack).")
    ] = Path("demo-out/store"),
    stack: Annotated[
        str | None, typer.Option(help="Read the deployed stack's tables instead (AWS credentials).")
    ] = None,
    campaigns: Annotated[
        Path, typer.Option(help="Directory of campaign YAML files (names, levels).")
    ] = CAMPAIGNS,
) -> None:
    """What the messaging earned: sends, engagement, conversions and uplift per campaign, level and
    channel; messages per recipient per week; the Striving/Steady/Stellar verdict and what to change.

    Example: nudge report --since 2026-11-01 --html demo-out/report.html
    """
    from nudge.report.build import build_report

    catalog = load_catalog(campaigns)
    cutoff = parse_since(since)
    with console.status("reading the send log and the conversions"):
        source = open_source(stack, store)
        messages, conversions = read(source.send_log), read(source.conversions)
        result = build_report(
            messages,
            conversions,
            catalog,
            since=cutoff,
            experiments_stored=read(source.experiments),
            journeys=read(source.journey_instances),
        )
    print_report(result)
    if json_path:
        json_path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        console.print(f"figures written to {json_path}")
    if html:
        written = write_html_report(result, html)
        console.print(f"HTML report: [bold]{written}[/bold] (open it in a browser)")


def _shopper_id(user_id: str) -> str:
    from shared.core.identity import reserved_id_problem

    problem = reserved_id_problem(user_id)
    if problem is not None:
        raise typer.BadParameter(
            f"{problem}: an anonymous profile is erased with the shopper it was seen with"
        )
    return user_id


@app.command()
def erase(
    user_id: Annotated[str, typer.Argument(help="The shopper to erase.", callback=_shopper_id)],
    stack: Annotated[str, typer.Option(help="The deployed stack (AWS credentials needed).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase everything Nudge stores about a shopper (GDPR): profile, ledger, inbox, send log, pending
    jobs, the anonymous profiles seen with them and their messages in the dead-letter queues; keeps
    the hashed erasure marker and suppressions (docs/security.md).

    Example: nudge erase u00042 --stack Nudge --yes
    """
    from datetime import UTC, datetime

    from shared.adapters.privacy import DynamoKeptRecords, DynamoUserData
    from shared.adapters.scheduler import SchedulerPendingJobs
    from shared.adapters.sqs import SqsDeadLetterQueue
    from shared.deployment.topology import PRIVACY, SHOPPER_DEAD_LETTER_QUEUES, TABLES, queue_output
    from shared.privacy.erasure import Erasures, Pseudonyms
    from shared.privacy.requests import erase_user

    if not yes and not typer.confirm(f"Erase all data of {user_id} from {stack}?"):
        raise typer.Exit(1)
    deployed = read(lambda: DeployedStack(stack))
    tables = read(lambda: {t.key: deployed.table(t.key) for t in TABLES})
    dynamodb, sqs = deployed.client("dynamodb"), deployed.client("sqs")
    key_arn = read(lambda: deployed.output(topology.PRIVACY_KEY_OUTPUT))

    def privacy_key() -> bytes:
        secret = deployed.client("secretsmanager").get_secret_value(SecretId=key_arn)
        return str(secret["SecretString"]).encode()

    queues = read(lambda: {k: deployed.output(queue_output(k)) for k in SHOPPER_DEAD_LETTER_QUEUES})
    group = read(lambda: deployed.output(topology.DEFERRAL_GROUP_OUTPUT))
    report = erase_user(
        user_id,
        DynamoUserData(dynamodb, tables),
        SchedulerPendingJobs(deployed.client("scheduler"), group),
        Erasures(Pseudonyms(privacy_key), DynamoKeptRecords(dynamodb, tables[PRIVACY.key])),
        {k: SqsDeadLetterQueue(sqs, url) for k, url in queues.items()},
        datetime.now(UTC),
    )
    print_erasure(user_id, report)


dlq_app = typer.Typer(
    help="What sits in the dead-letter queues, and why; redrive it after a fix.", no_args_is_help=True
)


app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    stack: Annotated[
        str | None, typer.Option(help="Read the deployed stack's dead-letter queues (AWS credentials).")
    ] = None,
    store: Annotated[
        Path, typer.Option(help="A local store left by `nudge demo` (ignored with --stack).")
    ] = Path("demo-out/store"),
    limit: Annotated[int, typer.Option(min=0, help="Messages to show per queue.")] = 20,
) -> None:
    """Each dead-letter queue and its count; per message the reason, the source and when first seen.

    Messages stay in their queues (they are read and made visible again).

    Example: nudge dlq list --stack Nudge --limit 50
    """
    views = read(lambda: open_source(stack, store).dead_letters(limit))
    print_dead_letters(f"Dead-letter queues — {stack or store}", views)


@dlq_app.command("redrive")
def dlq_redrive(
    queue: Annotated[str, typer.Argument(metavar="QUEUE", help="The dead-letter queue, e.g. delivery-dlq.")],
    stack: Annotated[str, typer.Option(help="The deployed stack (AWS credentials needed).")],
    limit: Annotated[int | None, typer.Option(min=1, help="Move at most this many (default: all).")] = None,
) -> None:
    """Move parked messages back to the work queue they came from, after the cause is fixed.

    Messages are received, sent to the source queue (body only) and deleted, ten at a time; an
    interrupted redrive can leave a message in both queues, which the consumers' idempotency absorbs.
    A delivery job whose outcome is unknown is parked again rather than sent (at most once).

    Example: nudge dlq redrive ingest-dlq --stack Nudge --limit 100
    """

    from shared.adapters.sqs import SqsDeadLetterQueue, SqsQueue
    from shared.deployment.topology import DEAD_LETTER_SOURCES, queue_output

    if queue not in DEAD_LETTER_SOURCES:
        typer.echo(f"no dead-letter queue {queue!r}; choose from {', '.join(DEAD_LETTER_SOURCES)}", err=True)
        raise typer.Exit(1)
    source = DEAD_LETTER_SOURCES[queue]
    if source is None:
        typer.echo(
            f"{queue} holds events and invocation records of an asynchronously invoked function, not "
            "queue work: put the events on the bus again to retry them",
            err=True,
        )
        raise typer.Exit(1)
    deployed = read(lambda: DeployedStack(stack))
    client = deployed.client("sqs")
    parked_in, back_to = read(
        lambda: (deployed.output(queue_output(queue)), deployed.output(queue_output(source)))
    )
    moved = SqsDeadLetterQueue(client, parked_in).redrive(SqsQueue(client, back_to), limit)
    console.print(f"moved {moved} message(s) from {queue} back to {source}")
