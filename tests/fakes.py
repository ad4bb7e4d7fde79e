"""The test shop, built in one place: its campaigns and catalogs, and its shoppers.

Every test layer imports this module, as it imports ``tests/payloads.py`` (the Segment payloads an app
sends, which the shoppers here are identified with). Builders take the campaign file's or the
profile's own fields as keyword arguments, so a test names only what it is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from payloads import identify

from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.model import Campaign

if TYPE_CHECKING:
    from nudge.local.runtime import LocalRuntime

CAMPAIGNS = Path(__file__).resolve().parents[1] / "campaigns"  # the campaigns Nudge ships
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "campaigns"
# The one-message campaigns Nudge shipped until journeys replaced them (an L4 trigger with delay,
# cancel_if and throttle; one sent once per shopper; a delayed, throttled one): the trigger, delivery
# and attribution tests are about them. The journeys run in tests/integration/test_journeys.py and
# test_shipped_journeys.py.
REPLACED_BY_JOURNEYS = {
    "cart-recovery": FIXTURES / "abandoned-cart.yaml",
    "welcome-series": FIXTURES / "welcome.yaml",
    "post-purchase": FIXTURES / "post-purchase-review.yaml",
}
ABANDONED_CART = REPLACED_BY_JOURNEYS["cart-recovery"]
CART_JOURNEY = "cart-recovery"
SEGMENT_JOURNEYS = ("at-risk-save",)  # new with journeys: no one-message campaign before them
# The test shop's first instant, where the integration `clock` (and so the `runtime`) starts: a Monday,
# 08:00 UTC, the end of the quiet hours. Here rather than in a conftest.py: every test directory has
# one, and `from conftest import` reads whichever pytest imported last.
START = datetime(2026, 11, 2, 8, tzinfo=UTC)

# -- catalogs -----------------------------------------------------------------------------------------


def catalog_without(*campaign_ids: str) -> Catalog:
    """The bundled campaigns less some (e.g. without the welcome, whose email on every first identify
    would use the day's email cap in tests about something else), with the one-message campaigns in place
    of the journeys that replaced them and without the segment journeys (the journeys' own tests run
    them)."""
    from shared.campaigns.loader import load_campaign_file

    full = load_campaign_dir(CAMPAIGNS)
    replaced = [load_campaign_file(f, full.vocabulary) for f in REPLACED_BY_JOURNEYS.values()]
    journeys = {*REPLACED_BY_JOURNEYS, *SEGMENT_JOURNEYS}
    kept = [c for c in full if c.id not in {*campaign_ids, *journeys}]
    return Catalog([*kept, *(c for c in replaced if c.id not in campaign_ids)], full.policy, full.custom)


# -- campaigns ----------------------------------------------------------------------------------------

# One short message per channel, for campaigns whose content is not what the test is about.
GREETING: dict[str, dict[str, str]] = {
    "email": {"subject": "Hi", "html": "<p>Hi</p>"},
    "push": {"title": "Hi", "body": "Hi"},
    "in_app": {"title": "Hi", "body": "Hi"},
}
Channels = Mapping[str, Mapping[str, Any]] | Sequence[str]


def campaign(campaign_id: str, channels: Channels = (), **fields: Any) -> Campaign:
    """A campaign file's content, named after its id unless ``name`` is given. ``channels`` is the
    content by channel, or the channels to send on, each with its :data:`GREETING` (in that order of
    preference); ``fields`` are the rest of the file: level, schedule or trigger, audience, caps..."""
    content = {c: dict(GREETING[c]) for c in channels} if not isinstance(channels, Mapping) else channels
    return Campaign.model_validate({"id": campaign_id, "name": campaign_id, "channels": content, **fields})


def one_time(campaign_id: str, channels: Channels, *, at: str, **fields: Any) -> Campaign:
    """An L1 campaign sent once, at ``at`` (local time of the campaign's zone, UTC unless given)."""
    return campaign(campaign_id, channels, level="L1", schedule={"expression": f"at({at})"}, **fields)


def daily(campaign_id: str, hour_utc: int, channels: Channels, **fields: Any) -> Campaign:
    """An L1 campaign sent every day at ``hour_utc``:00 UTC."""
    schedule = {"expression": f"cron(0 {hour_utc} * * ? *)", "timezone": "UTC"}
    return campaign(campaign_id, channels, level="L1", schedule=schedule, **fields)


def triggered(
    campaign_id: str, channels: Channels, *, event: str = "Order Completed", **fields: Any
) -> Campaign:
    """An L4 campaign sent on each ``event``, at once."""
    return campaign(campaign_id, channels, level="L4", trigger={"event": event}, **fields)


def probe(channels: Channels, **fields: Any) -> Campaign:
    """The campaign ``probe`` ("Probe") on every Order Completed: what a test sends through delivery
    to see what comes out."""
    return triggered("probe", channels, name="Probe", **fields)


# -- shoppers -----------------------------------------------------------------------------------------


def shopper_traits(user_id: str, **traits: Any) -> dict[str, Any]:
    """The traits of the shop's usual shopper: Ayu, 25, in Indonesia (the bundled campaigns' audience),
    on UTC, mailed at ``<user_id>@example.com``, who opted in to email and in-app messages but not to
    push. ``traits`` replace or add traits; one given as ``None`` is left out."""
    values: dict[str, Any] = {
        "email": f"{user_id}@example.com",
        "firstName": "Ayu",
        "age": 25,
        "address": {"country": "ID"},
        "timezone": "UTC",
        "consent": {"email": True, "push": False, "in_app": True},
        **traits,
    }
    return {name: value for name, value in values.items() if value is not None}


def shopper_identify(
    user_id: str, *, at: str | datetime = "2026-11-02T07:00:00Z", **traits: Any
) -> dict[str, Any]:
    """The app's identify of the shopper (message id ``id-<user_id>``) with :func:`shopper_traits`."""
    return identify(user_id, f"id-{user_id}", at, **shopper_traits(user_id, **traits))


def identify_shopper(
    runtime: LocalRuntime, user_id: str, *, at: str | datetime = "2026-11-02T07:00:00Z", **traits: Any
) -> None:
    """Publish the shopper's identify (:func:`shopper_identify`) and let ingest store the profile."""
    runtime.publish([shopper_identify(user_id, at=at, **traits)])
    runtime.drain()
