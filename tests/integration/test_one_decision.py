"""One decision: the deliverer and ``nudge simulate`` decide every job alike (issue 17).

A small demo store (the shipped campaigns and two daily test campaigns, 100 shoppers, 5 days,
seed 5) runs through the local
runtime on moto: ingest, triggers, the planner and audience workers make the jobs, and the deliver
function decides them on DynamoDB's ledgers and send log. Every job the deliverer decided is then
given, in the order it was decided, to the simulator's delivery (``nudge.simulate.SimulatedDelivery``:
``decide`` on a simulated send history, the send log's first-decision-stands rule) with the same
campaign, the profile the deliverer read and the same instant; the two must agree on the decision
(status and channel) of every (shopper, campaign, occurrence), i.e. every send key, each time it was
decided (a deferred job is decided again when the quiet hours end; a duplicate job again too).

So a check added, removed or moved in the deliverer around :func:`decide`, or in the simulator's
ledger, shows here as a decision the other does not make.

Excluded, and why:

* the shoppers' responses (``respond=False``): a shopper who clicks or buys because of a message
  would add events the simulator's replay never has;
* the adversary's interleaving (``gentle``): with jobs running concurrently the order in which the
  ledger saw the sends is not the order the deliver calls were recorded in;
* how the jobs are made: the simulator makes its own with the same functions (``trigger_job``,
  ``DeliveryJob.for_occurrence``), but on its replay the run's jobs would differ for reasons that are
  not decisions: the runtime handles an hour of events at the hour's start (the trigger's audience
  and the delivery instant move), and its scoring run gives profiles predicted scores the simulator
  has none of. Here the simulator is handed the run's own jobs instead;
* jobs delivery drops before it decides (a shopper erased since, a profile ingest has not written
  yet): they never reach :func:`decide`.
A 5% global control group and an experiment whose variants differ in channel order are added (issue 21).
The demo's duplicated events and its bounce-free moto providers are kept; the test asserts no channel
was suppressed, since the simulator models none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import fakes
import pytest

import shared.delivery.deliverer as deliverer_module
from nudge.local.demo import DemoOptions, run_demo
from nudge.simulate import SimulatedDelivery
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.model import Campaign
from shared.delivery.decision import Decision
from shared.delivery.deliverer import Deliverer, SendDecision
from shared.profiles.ledger import Ledger
from shared.profiles.profile import Profile


def daily(campaign_id: str, hour_utc: int, **fields: Any) -> Campaign:
    """Email, else in-app, to everyone (anonymous visitors too: no audience rules): the second of a
    day finds email's own cap (one a day) and falls back to in-app."""
    hello = {
        "email": {"subject": "Hello", "html": "<p>Hello</p>"},
        "in_app": {"title": "Hello", "body": "Hello"},
    }
    return fakes.daily(campaign_id, hour_utc, hello, holdout_percent=10, **fields)


# An experiment whose variants differ in channel order, so the variant drawn decides the channel.
IN_APP_FIRST = {
    "variants": [{"id": "email-first"}, {"id": "in-app-first", "channel_preference": ["in_app", "email"]}]
}


@dataclass(frozen=True)
class Decided:
    """One call of the deliverer: what ``decide`` was given, and what the deliverer answered."""

    job: DeliveryJob
    campaign: Campaign
    profile: Profile | None
    now: datetime
    suppressed: bool
    decision: Decision
    weights: Any
    answer: SendDecision | None = None


@pytest.fixture(scope="module")
def real_run() -> tuple[Catalog, list[Decided]]:
    shipped = load_campaign_dir(fakes.CAMPAIGNS)
    # a 5% global control group (issue 21): both must withhold the same shoppers from the same campaigns
    policy = shipped.policy.model_copy(update={"global_control_percent": 5.0})
    tests = [daily("daily-hello", 12, **IN_APP_FIRST), daily("daily-reminder", 13)]
    catalog = Catalog([*shipped, *tests], policy)
    calls: list[Decided] = []
    real_decide, real_deliver = deliverer_module.decide, Deliverer.deliver

    def recording_decide(
        job: DeliveryJob,
        campaign: Campaign,
        profile: Profile | None,
        ledger: Any,
        policy: Any,
        now: datetime,
        weights: Any = None,
    ) -> Decision:
        seen: list[Ledger] = []

        def read() -> Ledger:
            seen.append(ledger() if callable(ledger) else ledger)
            return seen[-1]

        decision = real_decide(job, campaign, profile, read, policy, now, weights)
        suppressed = any(s.suppressed for s in seen)
        copy = profile.model_copy(deep=True) if profile else None
        calls.append(Decided(job, campaign, copy, now, suppressed, decision, weights))
        return decision

    def recording_deliver(self: Deliverer, job: DeliveryJob) -> SendDecision:
        before = len(calls)
        answer = real_deliver(self, job)
        if len(calls) == before + 1:
            calls[-1] = replace(calls[-1], answer=answer)
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deliverer_module, "decide", recording_decide)
        patch.setattr(Deliverer, "deliver", recording_deliver)
        run_demo(catalog, DemoOptions(users=100, days=5, seed=5, respond=False, gentle=True))
    return catalog, calls


def test_the_simulator_decides_every_job_as_the_deliverer_did(
    real_run: tuple[Catalog, list[Decided]],
) -> None:
    catalog, calls = real_run
    simulated = SimulatedDelivery(catalog.policy)
    differ = []
    for call in calls:
        assert call.answer is not None, f"{call.job.send_key}: decided but the deliverer raised"
        assert not call.suppressed  # the simulator models no suppression
        mine = simulated.deliver(call.job, call.campaign, call.profile, call.now, call.weights)
        if (mine.status, mine.channel) != (call.answer.status, call.answer.channel):
            differ.append((call.job.send_key, call.now, mine, call.answer))
    assert differ == []
    statuses = Counter(c.answer.status for c in calls if c.answer is not None)
    # the run covers the decisions both make, so agreeing on them means something
    assert {
        "sent",
        "withheld_holdout",
        "withheld_global_control",
        "deferred_quiet_hours",
        "capped",
        "skipped",
        "no_consent",
    } <= set(statuses), statuses
    variants = Counter(c.decision.variant for c in calls if c.job.campaign_id == "daily-hello")
    assert variants["email-first"] > 0 and variants["in-app-first"] > 0, variants
    fallbacks = [
        c for c in calls if c.answer and c.answer.status == "sent" and c.decision.channels[0] == "email"
    ]
    assert any(c.answer and c.answer.channel == "in_app" for c in fallbacks)  # email's own cap passed it on
    anonymous = [c for c in calls if c.answer and c.answer.reason == "anonymous"]
    assert anonymous and all(c.answer and c.answer.status == "skipped" for c in anonymous)
    assert len(calls) > 1000
