"""L3 predictions: what score, train and evaluate print."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.table import Table

from nudge.cli.common import console


def print_segments(title: str, segments: Counter[str]) -> None:
    """How many shoppers fell in each RFM segment, the largest first."""
    table = Table(title=title)
    table.add_column("RFM segment")
    table.add_column("shoppers", justify="right")
    for name, count in segments.most_common():
        table.add_row(name, f"{count:,}")
    console.print(table)


def print_model(artefact: Any) -> None:
    """A trained artefact: its BG/NBD parameters, the model chosen per score, its validation."""
    table = Table(title=f"model {artefact.version}")
    table.add_column("what")
    table.add_column("value")
    table.add_row("BG/NBD (days)", ", ".join(f"{k} = {v:.4g}" for k, v in artefact.bgnbd.items()))
    table.add_row("chosen per score", ", ".join(f"{k}: {v}" for k, v in sorted(artefact.choices.items())))
    for name, result in sorted(artefact.validation.items()):
        if isinstance(result, dict) and name != "origins":
            table.add_row(f"validation: {name}", json.dumps(result))
    console.print(table)


def print_evaluation(results: list[Any]) -> None:
    """Each dataset, population and model's discrimination, calibration and error on the holdout."""
    table = Table(title="Time-based holdout: orders in the next 30 / 90 days")
    for column in (
        "dataset",
        "population",
        "model",
        "n",
        "AUC 30d",
        "Brier 30d",
        "ECE 30d",
        "AUC 90d",
        "MAE orders 90d",
    ):
        table.add_column(column, justify="left" if column in ("dataset", "population", "model") else "right")
    for result in results:
        for r in result.rows:
            table.add_row(
                r.dataset,
                r.population,
                r.model,
                f"{r.customers:,}",
                f"{r.auc_30:.3f}",
                f"{r.brier_30:.4f}",
                f"{r.ece_30:.4f}",
                f"{r.auc_n:.3f}",
                f"{r.mae_n:.3f}",
            )
    console.print(table)


def print_horizons(results: list[Any]) -> None:
    """Each dataset's cuts and horizons: AUC and expected-orders error of BG/NBD, the discriminative
    model before stacking and the scorer."""
    rows = [row for result in results for row in result.horizons]
    if not rows:
        return
    table = Table(title="Time cuts x horizons (buyers at each cut)")
    for column in ("dataset", "cut", "horizon", "model", "how", "AUC", "MAE orders", "RMSE orders"):
        table.add_column(
            column, justify="right" if column in ("horizon", "AUC", "MAE orders", "RMSE orders") else "left"
        )
    for r in rows:
        table.add_row(
            r.dataset,
            f"{r.cut:%Y-%m-%d}",
            str(r.horizon),
            r.model,
            r.how,
            f"{r.auc:.3f}",
            f"{r.mae:.3f}",
            f"{r.rmse:.3f}",
        )
    console.print(table)
