"""How the local runtime builds each function's ports: the one wiring (shared/platform/wiring.py) over
moto, observed (sends recorded, one-time schedules indexed), from the environment the stack gives
that function."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from nudge.local import routing
from nudge.local.account import API_URL, DEFERRAL_ROLE_ARN, FEED_BUCKET_NAME, NAMES, SENDER
from shared.adapters.scheduler import SchedulerDeferrals, schedule_name
from shared.core.keys import HmacKey
from shared.delivery.links import LinkSigner
from shared.deployment import topology
from shared.deployment.environment import deployment_environment, function_environment
from shared.platform.config import Settings
from shared.platform.wiring import Wiring
from shared.privacy.erasure import Pseudonyms


@dataclass(frozen=True)
class SentMessage:
    """What the local runtime saw a channel accept (for the demo's simulated shopper responses)."""

    at: datetime
    user_id: str
    campaign_id: str
    channel: str
    provider_id: str
    send_key: str


class _RecordedChannel:
    """A real channel (moto SES/SNS, the inbox table) that also notes each accepted send locally."""

    def __init__(self, channel: Any, name: str, sent: list[SentMessage]) -> None:
        self._channel, self._name, self._sent = channel, name, sent

    def send(self, message: Any, recipient: Mapping[str, Any]) -> str:
        provider_id = str(self._channel.send(message, recipient))
        self._sent.append(
            SentMessage(
                recipient["now"],
                str(recipient["user_id"]),
                message.campaign_id,
                self._name,
                provider_id,
                message.send_key,
            )
        )
        return provider_id


class _IndexedDeferrals:
    """The real adapter (moto's Scheduler gets the schedule), noting what it created for the runtime
    (moto keeps schedules but never fires them; the runtime does, at their time)."""

    def __init__(self, index: dict[str, tuple[datetime, dict[str, Any]]], inner: SchedulerDeferrals) -> None:
        self._index, self._inner = index, inner

    def defer(self, user_id: str, job_key: str, body: str, at: datetime, *, flexible: bool = True) -> bool:
        created = self._inner.defer(user_id, job_key, body, at, flexible=flexible)
        if created:
            self._index[schedule_name(user_id, job_key)] = (
                at.astimezone(UTC).replace(microsecond=0),
                self._inner.target(body),
            )
        return created

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _LocalWiring(Wiring):
    """The one wiring (shared/platform/wiring.py) over moto clients and the simulated clock. It only
    observes —
    records each accepted send, indexes one-time schedules — and hands out the secrets the runtime
    read once at start (Lambda reads them on first use); every port is built as in Lambda."""

    def __init__(self, runtime: Any, settings: Settings) -> None:
        super().__init__(settings, runtime.client, runtime.clock, runtime.catalog)
        self._runtime = runtime

    def channels(self) -> dict[str, Any]:
        return {name: _RecordedChannel(c, name, self._runtime.sent) for name, c in super().channels().items()}

    def deferrals(self) -> Any:
        return _IndexedDeferrals(self._runtime.scheduler.one_time, super().deferrals())

    def catalog_announcements(self) -> Any:
        """As in Lambda, and the events put on moto's bus then reach the rules they match (moto never
        invokes a rule's Lambda target: nudge/local/routing.py)."""
        found = super().catalog_announcements()
        if found is None:
            return None
        inner, runtime = found.publish, self._runtime

        def publish(events: Any) -> list[dict[str, Any]]:
            refused = inner(events)
            routing.route_internal(runtime, [(t, d) for t, d in events if d not in refused])
            return refused

        return replace(found, publish=publish)

    def signing_key(self) -> HmacKey:
        return self._runtime.signing_key

    def catalog_key(self) -> HmacKey:
        return self._runtime.catalog_key

    def pseudonyms(self) -> Pseudonyms:
        return self._runtime.pseudonyms


def environment(runtime: Any, spec: topology.FunctionSpec) -> dict[str, str]:
    """The env vars the stack gives ``spec``'s function, naming this runtime's resources."""

    def resolve(reference: str) -> str:
        kind, key = reference.split(":", 1)
        return {
            "table": lambda: runtime.table_names[key],
            "queue": lambda: runtime.queue_urls[key],
            "queue-arn": lambda: runtime.queue_arn(key),
            "schedule-group": lambda: NAMES.deferral_group,
            "role": lambda: DEFERRAL_ROLE_ARN,
            "secret": lambda: {
                "privacy": runtime.privacy_key_arn,
                "catalog": runtime.catalog_key_arn,
                "signing": runtime.signing_secret_arn,
            }[key],
            "api-url": lambda: API_URL + key,
            "bucket": lambda: FEED_BUCKET_NAME,
            "bus": lambda: NAMES.bus,
        }[kind]()

    env = {name: resolve(ref) for name, ref in function_environment(spec).items()}
    env["POWERTOOLS_SERVICE_NAME"] = f"nudge-{spec.key}"  # as infra/function.py sets it
    return env | deployment_environment(
        spec,
        sender_email=SENDER,
        ses_configuration_set=NAMES.configuration_set,
        trusted_event_sources=tuple(sorted(runtime.trusted_event_sources)),
        push_applications=tuple(runtime.push_apps.values()),
        catalog_feed_key=runtime.feed.key,
    )


def build_ports(runtime: Any, audience_segments: int | None, scoring_segments: int) -> dict[str, Any]:
    """Each function's ports, built by its own ``build_ports`` from the one wiring, over the
    environment the stack gives it (plus the runtime's sizing: fixed segment counts for a small
    store, and one enqueue thread so a seed replays the same run)."""
    secrets = runtime.client("secretsmanager")
    runtime.signing_key = HmacKey(
        secrets.get_secret_value(SecretId=runtime.signing_secret_arn)["SecretString"].encode()
    )
    runtime.signer = LinkSigner(runtime.signing_key)
    runtime.catalog_key = HmacKey(
        secrets.get_secret_value(SecretId=runtime.catalog_key_arn)["SecretString"].encode()
    )
    runtime.pseudonyms = Pseudonyms(
        secrets.get_secret_value(SecretId=runtime.privacy_key_arn)["SecretString"].encode()
    )
    tuning = {"SCORING_SEGMENTS": str(scoring_segments), "AUDIENCE_ENQUEUE_THREADS": "1"}
    if audience_segments is not None:
        tuning["AUDIENCE_SEGMENTS"] = str(audience_segments)
    ports = {}
    everything: dict[str, str] = {}
    for spec in topology.FUNCTIONS:
        env = environment(runtime, spec) | tuning
        everything |= env
        module = importlib.import_module(spec.handler.rsplit(".", 1)[0])
        ports[spec.key] = module.build_ports(_LocalWiring(runtime, Settings.from_env(env)))
    # What tests and the CLI read directly, from a wiring that sees every resource.
    own = _LocalWiring(runtime, Settings.from_env(everything))
    runtime.profiles = own.profile_store()
    runtime.send_log = own.send_log()
    runtime.ledgers = own.ledger_store()
    runtime.deferrals = own.deferrals()
    runtime.erasures = own.erasures()
    runtime.user_data = own.user_data()
    runtime.models = own.model_registry()
    return ports
