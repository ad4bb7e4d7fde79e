"""Amazon EventBridge event patterns: matching and validation in pure Python.

The local runtime routes events to handlers with the very patterns CDK deploys, so a pattern has to
mean here what it means on the bus. The semantics follow EventBridge's engine (aws/event-ruler) where
moto approximates it: JSON types are distinct (``true`` is not ``1``, ``"5"`` is not ``5``), arrays
in the event are crushed into their leaf values, an object inside an array is matched as a whole
(two fields of one sub-pattern must come from the same array element), and only leaves count as
present, so ``exists`` sees neither intermediate objects nor empty arrays.

Standard library only: this module is bundled into the Lambdas and runs once per event and rule.
"""

from __future__ import annotations

import ipaddress
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

__all__ = ["OPERATORS", "InvalidPattern", "matches", "validate_pattern"]

OPERATORS: Final = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"}
)
OR_KEY: Final = "$or"

# event-ruler refuses these as field names inside a "$or" branch, where they would read as operators.
_RESERVED_IN_OR: Final = OPERATORS | {
    "exactly",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
}
_COMPARISONS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_LOWER_BOUNDS: Final = frozenset({">", ">="})
_UPPER_BOUNDS: Final = frozenset({"<", "<="})
_ANYTHING_BUT_MODIFIERS: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_MISSING: Final = object()


class InvalidPattern(ValueError):
    """A pattern EventBridge would refuse; ``path`` points at the offending part, e.g. ``detail.total[0]``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '<pattern>'}: {reason}")
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------------------------- matching


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """True when the EventBridge ``event`` envelope matches ``pattern``.

    ``pattern`` is assumed valid (see :func:`validate_pattern`, run once when a rule is loaded rather
    than per event); ``{}`` matches everything.
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_value(expected: Any, value: Any) -> bool:
    """JSON equality: numbers compare by value (300 == 3.0e2) but never equal booleans or strings."""
    if isinstance(expected, str):
        return isinstance(value, str) and value == expected
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and bool(value == expected)
    return False


def _match_operator(matcher: Mapping[str, Any], value: Any) -> bool:
    if len(matcher) != 1:
        return False
    name, arg = next(iter(matcher.items()))
    if name == "anything-but":
        return not _excluded(arg, value)
    if name == "numeric":
        return _is_number(value) and _in_range(arg, value)
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
        compare = _COMPARISONS.get(spec[index])
        bound = spec[index + 1]
        if compare is None or not _is_number(bound) or not compare(value, bound):
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
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def _in_cidr(cidr: Any, value: str) -> bool:
    network = _network(cidr) if isinstance(cidr, str) else None
    if network is None:
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == network.version and address in network


# ------------------------------------------------------------------------------------------- validation


def validate_pattern(pattern: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidPattern` for a pattern EventBridge's ``PutRule`` would reject.

    Mirrors event-ruler's rule compiler, so a bad trigger fails at ``cdk synth`` and in the CLI with
    the path of the offending part instead of at deploy time.
    """
    if not isinstance(pattern, Mapping):
        raise InvalidPattern("", "an event pattern must be a JSON object")
    _check_object(pattern, "", in_or=False)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_object(node: Mapping[Any, Any], path: str, *, in_or: bool) -> None:
    if not node:
        raise InvalidPattern(path, "empty objects are not allowed")
    for key, value in node.items():
        if not isinstance(key, str):
            raise InvalidPattern(path, f"field names must be strings, got {key!r}")
        here = _child(path, key)
        if key == OR_KEY:
            _check_or(value, here)
        elif in_or and key in _RESERVED_IN_OR:
            raise InvalidPattern(here, f"{key!r} is a reserved word and cannot be a field name inside $or")
        elif isinstance(value, Mapping):
            _check_object(value, here, in_or=in_or)
        elif isinstance(value, list):
            _check_leaf(value, here)
        else:
            raise InvalidPattern(here, "must be an object or an array of allowed values")


def _check_or(branches: Any, path: str) -> None:
    if not isinstance(branches, list) or len(branches) < 2:
        raise InvalidPattern(path, "$or takes an array of at least 2 objects")
    for index, branch in enumerate(branches):
        if not isinstance(branch, Mapping):
            raise InvalidPattern(f"{path}[{index}]", "each $or branch must be an object")
        _check_object(branch, f"{path}[{index}]", in_or=True)


def _check_leaf(values: list[Any], path: str) -> None:
    if not values:
        raise InvalidPattern(path, "empty arrays are not allowed")
    for index, value in enumerate(values):
        here = f"{path}[{index}]"
        if isinstance(value, Mapping):
            _check_operator(value, here)
        elif _is_number(value):
            _check_finite(value, here)
        elif not (value is None or isinstance(value, (str, bool))):
            raise InvalidPattern(here, "match values are strings, numbers, true, false, null or operators")


def _check_finite(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidPattern(path, "numbers must be finite")


def _check_operator(matcher: Mapping[Any, Any], path: str) -> None:
    if len(matcher) != 1:
        found = ", ".join(repr(key) for key in matcher) or "none"
        raise InvalidPattern(path, f"an operator object takes exactly one key (found {found})")
    name, arg = next(iter(matcher.items()))
    here = _child(path, str(name))
    if name in ("prefix", "suffix"):
        if isinstance(arg, Mapping):
            _check_ignore_case_modifier(arg, here)
        elif not isinstance(arg, str):
            raise InvalidPattern(here, f"{name} takes a string or {{'equals-ignore-case': string}}")
    elif name == "equals-ignore-case":
        _require_string(arg, here, name)
    elif name == "wildcard":
        _check_wildcard(arg, here)
    elif name == "numeric":
        _check_numeric(arg, here)
    elif name == "exists":
        if not isinstance(arg, bool):
            raise InvalidPattern(here, "exists takes true or false")
    elif name == "cidr":
        _check_cidr(arg, here)
    elif name == "anything-but":
        _check_anything_but(arg, here)
    else:
        known = ", ".join(sorted(OPERATORS))
        raise InvalidPattern(path, f"unknown operator {name!r}; expected one of {known}")


def _require_string(arg: Any, path: str, name: str) -> None:
    if not isinstance(arg, str):
        raise InvalidPattern(path, f"{name} takes a string")


def _check_ignore_case_modifier(arg: Mapping[Any, Any], path: str) -> None:
    if list(arg) != ["equals-ignore-case"]:
        raise InvalidPattern(path, "the only modifier allowed here is {'equals-ignore-case': string}")
    _require_string(arg["equals-ignore-case"], _child(path, "equals-ignore-case"), "equals-ignore-case")


def _check_wildcard(arg: Any, path: str) -> None:
    _require_string(arg, path, "wildcard")
    index = 0
    while index < len(arg):
        char = arg[index]
        if char == "\\":
            if index + 1 >= len(arg) or arg[index + 1] not in "*\\":
                raise InvalidPattern(path, "a backslash may only escape '*' or another backslash")
            index += 2
            continue
        if char == "*" and arg[index + 1 : index + 2] == "*":
            raise InvalidPattern(path, "consecutive wildcard characters are not allowed")
        index += 1


def _check_numeric(arg: Any, path: str) -> None:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        raise InvalidPattern(path, "numeric takes [op, number] or [lower-op, number, upper-op, number]")
    for index in range(0, len(arg), 2):
        op, bound = arg[index], arg[index + 1]
        if op not in _COMPARISONS:
            raise InvalidPattern(f"{path}[{index}]", f"unknown numeric operator {op!r}; use = < <= > >=")
        if not _is_number(bound):
            raise InvalidPattern(f"{path}[{index + 1}]", f"the value after {op!r} must be a number")
        _check_finite(bound, f"{path}[{index + 1}]")
    if len(arg) == 4:
        if arg[0] not in _LOWER_BOUNDS or arg[2] not in _UPPER_BOUNDS:
            raise InvalidPattern(path, "a numeric range is a lower bound (>, >=) then an upper bound (<, <=)")
        if not arg[1] < arg[3]:
            raise InvalidPattern(path, "the lower bound of a numeric range must be less than the upper bound")


def _check_cidr(arg: Any, path: str) -> None:
    _require_string(arg, path, "cidr")
    if "/" not in arg or _network(arg) is None:
        raise InvalidPattern(path, f"{arg!r} is not an IPv4 or IPv6 CIDR block such as 10.0.0.0/24")


def _check_anything_but(arg: Any, path: str) -> None:
    if isinstance(arg, Mapping):
        if len(arg) != 1 or next(iter(arg)) not in _ANYTHING_BUT_MODIFIERS:
            allowed = ", ".join(_ANYTHING_BUT_MODIFIERS)
            raise InvalidPattern(path, f"anything-but takes a value, a list or one of {{{allowed}}}")
        name, inner = next(iter(arg.items()))
        here = _child(path, name)
        options = inner if isinstance(inner, list) else [inner]
        if not options:
            raise InvalidPattern(here, "empty arrays are not allowed")
        for index, option in enumerate(options):
            where = f"{here}[{index}]" if isinstance(inner, list) else here
            if name == "wildcard":
                _check_wildcard(option, where)
                continue
            _require_string(option, where, name)
            if name in ("prefix", "suffix") and not option:
                raise InvalidPattern(where, f"an empty {name} would exclude every string")
        return
    if isinstance(arg, list):
        if not arg:
            raise InvalidPattern(path, "empty arrays are not allowed")
        for index, option in enumerate(arg):
            _check_anything_but_value(option, f"{path}[{index}]")
        if len({isinstance(option, str) for option in arg}) > 1:
            raise InvalidPattern(path, "an anything-but list must be all strings or all numbers")
        return
    _check_anything_but_value(arg, path)


def _check_anything_but_value(value: Any, path: str) -> None:
    if isinstance(value, str):
        return
    if not _is_number(value):
        raise InvalidPattern(path, "anything-but values must be strings or numbers (not null or booleans)")
    _check_finite(value, path)
