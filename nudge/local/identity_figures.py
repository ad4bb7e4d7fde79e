"""What identity did in a run: visitors linked at login, and the real-time messages that started while
the shopper was anonymous (decided for them after they logged in) with the orders they brought."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.core.identity import ANONYMOUS_PREFIX
from shared.core.vocabulary import DecisionStatus


def started_anonymously(send_key: str) -> bool:
    """Whether a trigger's send key names an anonymous visitor (``campaign#event#anon:<id>``)."""
    return send_key.rsplit("#", 1)[-1].startswith(ANONYMOUS_PREFIX)


def identity_figures(
    profiles: Iterable[Any], messages: Iterable[Mapping[str, Any]], conversions: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    profiles = list(profiles)
    anonymous_sends = {
        str(m["send_key"]): m
        for m in messages
        if m["status"] == DecisionStatus.SENT and started_anonymously(str(m["send_key"]))
    }
    recovered = [c for c in conversions if str(c.get("send_key")) in anonymous_sends and c.get("attributed")]
    return {
        "visitors_linked": sum(1 for p in profiles if p.linked_to is not None),
        "shoppers_with_linked_visits": sum(1 for p in profiles if p.anonymous_ids and p.linked_to is None),
        "sent_after_anonymous_start": len(anonymous_sends),
        "by_campaign": _by_campaign(anonymous_sends.values()),
        "orders_after_them": len(recovered),
        "revenue_after_them": round(sum(float(c.get("revenue") or 0) for c in recovered), 2),
    }


def _by_campaign(sends: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in sends:
        counts[str(m["campaign_id"])] = counts.get(str(m["campaign_id"]), 0) + 1
    return dict(sorted(counts.items()))
