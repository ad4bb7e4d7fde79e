"""Amazon EventBridge event patterns: matching, in pure Python.

The local runtime routes events to handlers with the very patterns CDK deploys, so a pattern has to
mean here what it means on the bus. The semantics follow EventBridge's engine (aws/event-ruler) where
moto approximates it: JSON types are distinct (``true`` is not ``1``, ``"5"`` is not ``5``), arrays
in the event are crushed into their leaf values, an object inside an array is matched as a whole
(two fields of one sub-pattern must come from the same array element), and only leaves count as
present, so ``exists`` sees neither intermediate objects nor empty arrays. Whether EventBridge accepts
a pattern at all is :mod:`shared.events.pattern_validation`, which reads the operators and comparisons
named here.

Standard library only: this module is bundled into the Lambdas and runs once per event and rule.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

__all__ = ["COMPARISONS", "OPERATORS", "OR_KEY", "cidr_network", "is_number", "matches"]

OPERATORS: Final = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"}
)
OR_KEY: Final = "$or"

COMPARISONS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_MISSING: Final = object()


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """True when the EventBridge ``event`` envelope matches ``pattern``.

    ``pattern`` is assumed valid (:func:`shared.events.pattern_validation.validate_pattern` runs once,
    when a rule is loaded, rather than per event); ``{}`` matches everything.
    """
    return _match_object(pattern, event)


def _match_object(pattern: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    for key, sub in pattern.items():
        if key == OR_KEY and isinstance(sub, list):
            if not any(isinstance(branch, Mapping) and _match_object(branch, node) for branch in sub):
                return False
        elif isinstance(sub, Mapping):
            if not _match_nested(sub, node.get(key, _MISSING)):
                return False
        elif isinstance(sub, list):
            if not _match_leaf(sub, _leaf_values(node.get(key, _MISSING))):
                return False
        else:
            return False
    return True


def _match_nested(pattern: Mapping[str, Any], value: Any) -> bool:
    """A sub-pattern holds when one object at this path satisfies all of it (array consistency)."""
    if isinstance(value, Mapping):
        return _match_object(pattern, value)
    if isinstance(value, (list, tuple)):
        candidates = list(_objects_in(value))
        if candidates:
            return any(_match_object(pattern, candidate) for candidate in candidates)
    return _match_object(pattern, _EMPTY)


def _objects_in(array: Sequence[Any]) -> Iterator[Mapping[str, Any]]:
    for item in array:
        if isinstance(item, Mapping):
            yield item
        elif isinstance(item, (list, tuple)):
            yield from _objects_in(item)


def _leaf_values(value: Any) -> list[Any]:
    """The scalar values EventBridge sees at a path; empty means the field is absent."""
    if value is _MISSING or isinstance(value, Mapping):
        return []
    if isinstance(value, (list, tuple)):
        scalars: list[Any] = []
        for item in value:
            if isinstance(item, (list, tuple)):
                scalars.extend(_leaf_values(item))
            elif not isinstance(item, Mapping):
                scalars.append(item)
        return scalars
    return [value]


def _match_leaf(allowed: Sequence[Any], values: list[Any]) -> bool:
    # Plain loops rather than any(<generator>): this is the per-event hot path.
    for matcher in allowed:
        if isinstance(matcher, Mapping):
            if "exists" in matcher:
                if matcher["exists"] is bool(values):
                    return True
                continue
            for value in values:
                if _match_operator(matcher, value):
                    return True
        else:
            for value in values:
                if _same_value(matcher, value):
                    return True
    return False


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_value(expected: Any, value: Any) -> bool:
    """JSON equality: numbers compare by value (300 == 3.0e2) but never equal booleans or strings."""
    if isinstance(expected, str):
        return isinstance(value, str) and value == expected
    if expected is None or isinstance(expected, bool):
        return value is expected
    if is_number(expected):
        return is_number(value) and bool(value == expected)
    return False


def _match_operator(matcher: Mapping[str, Any], value: Any) -> bool:
    if len(matcher) != 1:
        return False
    name, arg = next(iter(matcher.items()))
    if name == "anything-but":
        return not _excluded(arg, value)
    if name == "numeric":
        return is_number(value) and _in_range(arg, value)
    if not isinstance(value, str):
        return False
    if name in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
        return _string_test(name, arg, value)
    if name == "cidr":
        return _in_cidr(arg, value)
    return False


def _string_test(name: str, arg: Any, value: str) -> bool:
    if isinstance(arg, Mapping):
        if name not in ("prefix", "suffix"):
            return False
        arg = arg.get("equals-ignore-case")
        if not isinstance(arg, str):
            return False
        value, arg = value.lower(), arg.lower()
    if not isinstance(arg, str):
        return False
    needle: str = arg
    if name == "prefix":
        return value.startswith(needle)
    if name == "suffix":
        return value.endswith(needle)
    if name == "equals-ignore-case":
        return value.lower() == needle.lower()
    return _wildcard_regex(needle).fullmatch(value) is not None


def _excluded(arg: Any, value: Any) -> bool:
    """Whether ``value`` is one of the things an ``anything-but`` names (so the event fails)."""
    if isinstance(arg, Mapping):
        if not isinstance(value, str) or len(arg) != 1:
            return False
        name, inner = next(iter(arg.items()))
        options = inner if isinstance(inner, list) else [inner]
        return any(_string_test(name, option, value) for option in options)
    if isinstance(arg, list):
        return any(_same_value(option, value) for option in arg)
    return _same_value(arg, value)


def _in_range(spec: Any, value: Any) -> bool:
    if not isinstance(spec, list) or len(spec) % 2:
        return False
    for index in range(0, len(spec), 2):
        compare = COMPARISONS.get(spec[index])
        bound = spec[index + 1]
        if compare is None or not is_number(bound) or not compare(value, bound):
            return False
    return True


@lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


@lru_cache(maxsize=256)
def cidr_network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def _in_cidr(cidr: Any, value: str) -> bool:
    network = cidr_network(cidr) if isinstance(cidr, str) else None
    if network is None:
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == network.version and address in network
