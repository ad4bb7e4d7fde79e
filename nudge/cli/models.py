"""L3 predictions: ``score``, ``train``, ``evaluate``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from nudge.cli.common import (
    DEMO_MODEL,
    app,
    console,
    end_of_day,
    say,
)
from nudge.cli.tables.models import print_evaluation, print_horizons, print_model, print_segments


@app.command()
def score(
    events: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="Segment-Spec events, one JSON per line.")
    ],
    as_of: Annotated[
        str, typer.Option(help="Score as of the end of this day (UTC); later events are ignored.")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the scores (CSV, one row per shopper).")],
    horizon_days: Annotated[
        int, typer.Option(min=7, max=365, help="Horizon of expected orders and churn.")
    ] = 90,
    model: Annotated[
        Path | None, typer.Option(help="A trained artefact (nudge train); default: train on these events.")
    ] = None,
) -> None:
    """Score every shopper in an event export: RFM, propensity, expected orders, churn, best hour, category.

    Only events up to --as-of are read. Without --model, the models are trained on the same events
    (rolling origins before --as-of), which needs horizon + 14 days of history. With less history
    than that (or than --model needs), the label-free models (BG/NBD, RFM) are fitted on the events
    instead, and the output says so.

    Example: nudge score --events events.jsonl --as-of 2026-12-31 --horizon-days 90 --out scores.csv
    """
    import time
    from collections import Counter

    from nudge.predictions.history import EventHistory
    from nudge.predictions.offline import score_history, write_csv
    from shared.predictions.model import ModelArtefact

    started = time.perf_counter()
    moment = end_of_day(as_of)
    artefact = ModelArtefact.model_validate_json(model.read_text()) if model else None
    with console.status("reading events") as status:
        history = EventHistory.from_jsonl(
            events, until=moment, progress=lambda n: status.update(f"reading events: {n:,}")
        )
        say(
            f"{history.events:,} events up to {as_of} from {history.read:,} lines "
            f"({history.rejected:,} rejected), {len(history.events_by_user):,} shoppers"
        )
        try:
            scored = score_history(history, moment, horizon_days, artefact, progress=say)
        except ValueError as error:
            typer.echo(f"cannot score: {error}", err=True)
            raise typer.Exit(1) from None
        write_csv(scored.rows, out)
    rows = scored.rows
    if scored.label_free_reason is not None:
        console.print(
            f"[yellow]label-free models[/yellow] (BG/NBD, RFM quintiles fitted on these events): "
            f"{scored.label_free_reason}"
        )
    segments = Counter(r["rfm_segment"] or "(no order in the window)" for r in rows)
    model_name = f"{scored.model.kind} model {scored.model.version}"
    print_segments(f"{len(rows):,} shoppers scored as of {as_of} — {model_name}", segments)
    console.print(f"wrote {out} in {time.perf_counter() - started:.1f} s")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Where to write the model artefact (JSON).")] = DEMO_MODEL,
    events: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Segment-Spec events, one JSON per line.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Train on events up to this day (default: the last).")
    ] = None,
    horizon_days: Annotated[
        int, typer.Option(min=7, max=365, help="Horizon of expected orders and churn.")
    ] = 90,
    synthetic_users: Annotated[
        int, typer.Option(help="Without --events: shoppers in the synthetic store.")
    ] = 600,
    synthetic_days: Annotated[int, typer.Option(help="Without --events: days of synthetic history.")] = 240,
    publish_table: Annotated[
        str | None,
        typer.Option(help="Also publish the artefact to this DynamoDB models table (AWS credentials)."),
    ] = None,
) -> None:
    """Train the scoring models (BG/NBD + logistic/Poisson) and write a versioned artefact.

    Without --events, trains on a synthetic store's history (seed 8, not the demo's seed), which is
    how models/scoring-model.json — the artefact the demo publishes — is made.

    Example: nudge train --events events.jsonl --as-of 2026-12-31 --out model.json --publish-table models
    """
    from nudge.predictions.datasets import synthetic_events
    from nudge.predictions.history import EventHistory
    from nudge.predictions.train import TrainingOptions
    from nudge.predictions.train import train as fit

    with console.status("reading events"):
        if events is not None:
            history = EventHistory.from_jsonl(events, until=end_of_day(as_of) if as_of else None)
        else:
            history = EventHistory.from_payloads(synthetic_events(synthetic_users, synthetic_days, seed=8))
    last = max(e[-1].timestamp for e in history.events_by_user.values())
    moment = end_of_day(as_of) if as_of else last
    say(f"{history.events:,} events, {len(history.events_by_user):,} shoppers, as of {moment:%Y-%m-%d}")
    try:
        artefact = fit(history, moment, TrainingOptions(horizon_days=horizon_days), say)
    except ValueError as error:
        typer.echo(f"cannot train: {error}", err=True)
        raise typer.Exit(1) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(artefact.to_json() + "\n")
    print_model(artefact)
    console.print(f"wrote {out}")
    if publish_table:
        import boto3

        from shared.adapters.dynamo.models import DynamoModelRegistry

        DynamoModelRegistry(boto3.client("dynamodb"), publish_table).publish(
            artefact.version, artefact.to_json()
        )
        console.print(f"published {artefact.version} to {publish_table}")


@app.command()
def evaluate(
    dataset: Annotated[
        list[str] | None, typer.Option(help="synthetic, synthetic-young and/or cdnow (default: all).")
    ] = None,
    write_docs: Annotated[
        Path | None, typer.Option(help="Replace the generated evaluation block of this Markdown file.")
    ] = None,
) -> None:
    """Time-based holdout evaluation of BG/NBD, logistic/Poisson, the stacked scorer and the label-free
    fallback, across several time cuts and horizons of 30 to 365 days.

    CDNOW comes from the lifetimes 0.11.3 wheel, downloaded once with pip (no install) into
    ~/.cache/nudge (NUDGE_CACHE overrides).

    Example: nudge evaluate --write-docs docs/predictions.md
    """
    from nudge.predictions.evaluate import DATASETS, markdown, write_into_doc
    from nudge.predictions.evaluate import evaluate as run

    keys = dataset or list(DATASETS)
    unknown = [k for k in keys if k not in DATASETS]
    if unknown:
        raise typer.BadParameter(f"unknown dataset(s) {unknown}; choose from {sorted(DATASETS)}")
    results = [run(DATASETS[k], say) for k in keys]
    print_evaluation(results)
    print_horizons(results)
    block = markdown(results)
    if write_docs:
        write_into_doc(write_docs, block)
        console.print(f"updated the evaluation block of {write_docs}")
    else:
        sys.stdout.write(block)
    _evaluate_recommendations(keys, write_docs)


def _evaluate_recommendations(keys: list[str], write_docs: Path | None) -> None:
    """Hit rate@10 and NDCG@10 on the datasets with products (the synthetic store; CDNOW has none)."""
    from nudge.predictions import recommendations_eval
    from nudge.predictions.evaluate import DATASETS

    with_products = [k for k in keys if k == "synthetic"]
    if not with_products:
        return
    rows = [
        row
        for k in with_products
        for row in recommendations_eval.evaluate_recommendations(k, DATASETS[k].events(), DATASETS[k].cut)
    ]
    block = recommendations_eval.markdown(rows)
    if write_docs:
        recommendations_eval.write_into_doc(write_docs, block)
        console.print(f"updated the recommendations block of {write_docs}")
    else:
        sys.stdout.write(block)
