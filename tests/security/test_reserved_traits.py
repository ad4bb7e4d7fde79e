"""Issue 15, finding 5: a publisher cannot fake the scores and aggregates Nudge computes.

Identify traits ``rfm.segment: champions`` and ``purchase_propensity: 0.99`` put a shopper who never
ordered into the champions campaign, and survived scoring (the scorer writes only the scores it can
compute). Every name the scorer or the profile's aggregates write is reserved: a trait with such a
name is dropped at ingest with a logged reason, and the audience view never reads one from traits.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import payloads
import pytest
from fakes import CAMPAIGNS
from moto import mock_aws

from nudge.local.account import ACCOUNT, REGION
from nudge.local.runtime import LocalRuntime
from shared.campaigns.audience.vocabulary import ATTRIBUTES
from shared.campaigns.loader import load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.events.sources import APP_EVENT_SOURCE
from shared.profiles.profile import RESERVED_TRAITS, Cart, CartItem, Profile, audience_view

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 2, 8, tzinfo=UTC)
FAKED = {
    "rfm.segment": "champions",
    "rfm": {"segment": "champions", "r": 5, "f": 5, "m": 5},
    "purchase_propensity": 0.99,
    "orders": 40,
    "rfm_segment": "champions",
}


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(
            load_campaign_dir(CAMPAIGNS),
            SimulatedClock(START),
            audience_segments=2,
            log_level="WARNING",
        )


def identify(user_id: str, **traits: Any) -> str:
    detail = payloads.identify(user_id, f"id-{user_id}", **traits)
    return json.dumps(
        {
            "version": "0",
            "id": "e-1",
            "detail-type": "Segment",
            "source": APP_EVENT_SOURCE,
            "account": ACCOUNT,
            "time": detail["timestamp"],
            "region": REGION,
            "resources": [],
            "detail": detail,
        }
    )


def test_identify_traits_cannot_put_a_non_buyer_among_champions(
    runtime: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.invoke("ingest", runtime.sqs_event("ingest", [identify("nb1", first_name="Ned", **FAKED)]))

    profile = runtime.profiles.get("nb1")
    assert profile is not None
    assert profile.traits["first_name"] == "Ned"
    assert not set(FAKED) & set(profile.traits)
    campaign = runtime.catalog.get("l3-champions-early-access")
    assert campaign is not None
    assert not campaign.parsed_audience.includes(profile, START)

    reasons = sorted(r.reason for r in caplog.records if r.getMessage() == "trait dropped")
    assert len(reasons) == len(FAKED)
    assert "detail.traits.rfm.segment: a name Nudge computes (reserved); dropped" in reasons


def test_a_stored_trait_with_a_reserved_name_is_never_read_as_a_score() -> None:
    """Profiles written before the names were reserved: the view reads scores only from the scorer."""
    profile = Profile(user_id="nb2", traits={"first_name": "Ned", **FAKED})
    view = audience_view(profile, START)
    assert view["first_name"] == "Ned"
    assert view.get("rfm.segment") is None and view.get("purchase_propensity") is None
    assert view["orders"] == 0 and "rfm_segment" not in view


def _scorer_writes() -> set[str]:
    """Every key the scorer puts in a profile's ``scores`` (read from its source, so a new score is
    reserved the day it is written)."""
    tree = ast.parse((ROOT / "shared" / "predictions" / "scoring.py").read_text())
    scorer = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "score_profile")
    keys: set[str] = set()
    for node in ast.walk(scorer):
        named = isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
        if named and node.value.id == "scores" and isinstance(node.slice, ast.Constant):  # type: ignore[attr-defined]
            keys.add(node.slice.value)  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict):
            keys |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
        # for score in ("purchase_propensity", ...): scores[score] = ...
        if not isinstance(node, ast.For):
            continue
        if isinstance(node.iter, ast.Tuple) and isinstance(node.target, ast.Name):
            loop_variable = node.target.id
            writes_it = any(
                isinstance(inner, ast.Subscript)
                and isinstance(inner.value, ast.Name)
                and inner.value.id == "scores"
                and isinstance(inner.slice, ast.Name)
                and inner.slice.id == loop_variable
                for inner in ast.walk(node)
            )
            if writes_it:
                keys |= {e.value for e in node.iter.elts if isinstance(e, ast.Constant)}
    assert {"rfm", "purchase_propensity", "model_version"} <= keys
    return keys


def test_the_reserved_names_are_everything_nudge_computes() -> None:
    assert _scorer_writes() <= RESERVED_TRAITS
    scored = Profile(
        user_id="u",
        orders=2,
        last_order_at=START,
        last_seen=START,
        category_views={"shoes": 1},
        cart=Cart(items=[CartItem(product_id="p")], updated_at=START),
        scores={
            "rfm": {"segment": "loyal", "r": 4, "f": 4, "m": 4},
            "best_send_hour": 9,
            **{name: 0.5 for name in ("purchase_propensity", "churn_risk", "expected_orders")},
            **{name: 0.5 for name in ("probability_alive", "favourite_category", "next_category")},
        },
    )
    computed = set(audience_view(scored, START)) - {"age"}  # age is the shopper's own trait
    assert computed <= RESERVED_TRAITS
    assert {name.replace(".", "_") for name in computed} <= RESERVED_TRAITS  # as templates spell them
    assert {name for name, kind in ATTRIBUTES.items() if "(trait)" not in kind} <= RESERVED_TRAITS
    assert not {"email", "first_name", "country", "timezone", "consent"} & RESERVED_TRAITS
