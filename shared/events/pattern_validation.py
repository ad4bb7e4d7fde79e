"""Amazon EventBridge event patterns: validation, as ``PutRule`` does it (event-ruler's rule compiler).

A campaign's trigger pattern is checked when its file is read (the CLI, ``cdk synth``, the catalog a
Lambda loads), so a pattern EventBridge would refuse fails there, with the path of the offending
part, instead of at deploy time. What a valid pattern matches is :mod:`shared.events.patterns`.

Standard library only: this module is bundled into the Lambdas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from shared.events.patterns import COMPARISONS, OPERATORS, OR_KEY, cidr_network, is_number

__all__ = ["InvalidPattern", "validate_pattern"]

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
_LOWER_BOUNDS: Final = frozenset({">", ">="})
_UPPER_BOUNDS: Final = frozenset({"<", "<="})
_ANYTHING_BUT_MODIFIERS: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")


class InvalidPattern(ValueError):
    """A pattern EventBridge would refuse; ``path`` points at the offending part, e.g. ``detail.total[0]``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '<pattern>'}: {reason}")
        self.path = path
        self.reason = reason


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
        elif is_number(value):
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
        if op not in COMPARISONS:
            raise InvalidPattern(f"{path}[{index}]", f"unknown numeric operator {op!r}; use = < <= > >=")
        if not is_number(bound):
            raise InvalidPattern(f"{path}[{index + 1}]", f"the value after {op!r} must be a number")
        _check_finite(bound, f"{path}[{index + 1}]")
    if len(arg) == 4:
        if arg[0] not in _LOWER_BOUNDS or arg[2] not in _UPPER_BOUNDS:
            raise InvalidPattern(path, "a numeric range is a lower bound (>, >=) then an upper bound (<, <=)")
        if not arg[1] < arg[3]:
            raise InvalidPattern(path, "the lower bound of a numeric range must be less than the upper bound")


def _check_cidr(arg: Any, path: str) -> None:
    _require_string(arg, path, "cidr")
    if "/" not in arg or cidr_network(arg) is None:
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
    if not is_number(value):
        raise InvalidPattern(path, "anything-but values must be strings or numbers (not null or booleans)")
    _check_finite(value, path)
