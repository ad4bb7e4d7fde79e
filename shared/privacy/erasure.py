"""What erasure keeps, and how ingest, delivery and feedback honour it.

Erasure deletes the shopper's rows, but copies of their data can still be on their way: an event in
the ingest queue, a delivery job, an SES bounce for a message sent last week, a message in a
dead-letter queue that an operator redrives. Each would write a row again. So erasure keeps, per
erased id, a :class:`KeptRecord`: a keyed hash of the id and the time of the erasure (the marker).
Anything about the shopper that dates from before that time is dropped where it arrives, with a
logged reason and no personal data. What happens after it (the shopper signs in again) is new data.

Suppressions outlive erasure, as suppression lists must: an unsubscribe, a permanent bounce or a
complaint is kept as a hashed record of the user id and of the address (channel + address), and
delivery honours them for whoever comes with that id or address later.

The hash is HMAC-SHA256 with a per-stack secret key (Secrets Manager), not a salted SHA-256: user ids
and email addresses are guessable, and a salt sits next to the data it salts, so anyone who could
read the table could test candidates. With the key apart, the table alone says nothing about who
was erased; the stack, which holds the key, can still recognise the id when it comes back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared.core.keys import HmacKey
from shared.core.vocabulary import EMAIL_TRAIT, Channel
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger, Suppression

if TYPE_CHECKING:
    from shared.profiles.ports import LedgerStore


# Kept suppressions reach these channels; an address is hashed per channel (the trait that holds it).
ADDRESS_TRAITS = {Channel.EMAIL: EMAIL_TRAIT, Channel.PUSH: "push_endpoint"}
KEPT_SOURCE = "kept after erasure"
ERASED = "shopper erased"  # the reason logged wherever something predating an erasure is dropped


class Pseudonyms:
    """Keyed hashes of ids and addresses; ``key`` may be a loader, called on first use."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self.key = HmacKey(key, "pseudonym")

    def _of(self, kind: str, value: str) -> str:
        message = json.dumps([kind, value], ensure_ascii=False).encode("utf-8", "surrogatepass")
        return self.key.digest(message).hex()

    def user(self, user_id: str) -> str:
        return self._of("user", user_id)

    def address(self, channel: str, address: str) -> str:
        """The same mailbox however it was typed (case, spaces); endpoints as they are."""
        value = address.strip().casefold() if channel == Channel.EMAIL else address.strip()
        return self._of(channel, value)

    def addresses(self, traits: Mapping[str, Any]) -> dict[str, str]:
        """Channel → hashed address, for the addresses ``traits`` hold."""
        found: dict[str, str] = {}
        for channel, trait in ADDRESS_TRAITS.items():
            value = traits.get(trait)
            if isinstance(value, str) and value.strip():
                found[channel] = self.address(channel, value)
        return found


class KeptRecords(Protocol):
    def get(self, key: str) -> KeptRecord | None: ...

    def get_many(self, keys: Sequence[str]) -> dict[str, KeptRecord]: ...

    def keep(self, records: Sequence[KeptRecord]) -> None:
        """Merge ``records`` into what is kept (a later erasure time wins; suppressions add up)."""
        ...


@dataclass(frozen=True)
class Erasures:
    """The erasure markers and kept suppressions, as the functions that honour them read them."""

    pseudonyms: Pseudonyms
    records: KeptRecords

    def keys_for(self, user_id: str, traits: Mapping[str, Any] | None = None) -> list[str]:
        """The records that concern a shopper: their id's, and their addresses' (from ``traits``)."""
        return [self.pseudonyms.user(user_id), *self.pseudonyms.addresses(traits or {}).values()]

    def marker(self, user_id: str, found: Mapping[str, KeptRecord]) -> KeptRecord | None:
        record = found.get(self.pseudonyms.user(user_id))
        return record if record is not None and record.erased_at else None

    def suppressions(
        self, user_id: str, traits: Mapping[str, Any], found: Mapping[str, KeptRecord]
    ) -> dict[str, Suppression]:
        """Channel → the kept suppression that applies to this shopper (by id or by address)."""
        applying: dict[str, Suppression] = {}
        records = [found.get(k) for k in self.keys_for(user_id, traits)]
        for record in records:
            for channel, reason in (record.suppressed if record else {}).items():
                applying.setdefault(channel, Suppression(reason, record.erased_at or "", KEPT_SOURCE))  # type: ignore[union-attr]
        return applying

    def with_kept_suppressions(
        self, ledger: Ledger, traits: Mapping[str, Any], found: Mapping[str, KeptRecord]
    ) -> Ledger:
        """The ledger with the suppressions kept for this id or these addresses (the ledger's own win)."""
        extra = self.suppressions(ledger.user_id, traits, found)
        return replace(ledger, suppressed={**extra, **(ledger.suppressed or {})}) if extra else ledger


def suppress_unless_erased(
    ledgers: LedgerStore,
    erasures: Erasures | None,
    user_id: str,
    channel: str,
    suppression: Suppression,
    about: datetime | str | None,
    addresses: Sequence[str] = (),
) -> bool:
    """Suppress ``channel`` on the shopper's ledger, or, when the shopper was erased after ``about``
    (the message a bounce or an unsubscribe link is about; None: unknown), keep the suppression hashed
    by id and by ``addresses`` instead of writing a ledger row again. True if it was kept hashed.

    The marker is read only when the shopper has no ledger (the update is conditional on it): a
    suppression of a shopper Nudge has sent to costs no request more."""
    if erasures is None:
        ledgers.suppress(user_id, channel, suppression)
        return False
    if ledgers.suppress(user_id, channel, suppression, existing_only=True):
        return False
    key = erasures.pseudonyms.user(user_id)
    marker = erasures.records.get(key)
    if marker is None or not marker.erased_since(about):
        ledgers.suppress(user_id, channel, suppression)
        return False
    reason = {channel: suppression.reason}
    erasures.records.keep(
        [
            KeptRecord(key, suppressed=reason),
            *(KeptRecord(erasures.pseudonyms.address(channel, a), suppressed=reason) for a in addresses),
        ]
    )
    return True


def records_for_erasure(
    pseudonyms: Pseudonyms,
    user_id: str,
    anonymous_profiles: Iterable[str],
    traits: Mapping[str, Any],
    suppressed: Mapping[str, str],
    at: datetime,
) -> list[KeptRecord]:
    """What erasing ``user_id`` keeps: a marker per id (theirs and the linked anonymous profiles'),
    and each suppression under the id and under the channel's address."""
    erased_at = at.astimezone(UTC).isoformat()
    records = [KeptRecord(pseudonyms.user(user_id), erased_at, dict(suppressed))]
    records += [KeptRecord(pseudonyms.user(anonymous), erased_at) for anonymous in anonymous_profiles]
    addresses = pseudonyms.addresses(traits)
    for channel, reason in suppressed.items():
        if channel in addresses:
            records.append(KeptRecord(addresses[channel], suppressed={channel: reason}))
    return records


def mentions(body: str, ids: Iterable[str], addresses: Iterable[str]) -> bool:
    """Whether a parked message is about the shopper: a JSON string in it equal to one of ``ids``
    (user and anonymous ids, matched whole: ``u1`` must not match ``u10``), or containing one of
    ``addresses`` (email, phone, push endpoint: distinctive enough to find inside a header such as
    ``Ayu <ayu@example.com>``). A body that is not JSON is searched as text."""
    exact = {i for i in ids if i}
    contained = [a for a in addresses if a]
    lowered = body.casefold()
    if not any(a.casefold() in lowered for a in contained) and not any(i in body for i in exact):
        return False  # the common case: nothing of the shopper anywhere in the text
    try:
        data = json.loads(body)
    except ValueError:
        return any(a.casefold() in lowered for a in contained) or any(json.dumps(i) in body for i in exact)
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and (
            value in exact or any(a.casefold() in value.casefold() for a in contained)
        ):
            return True
    return False
