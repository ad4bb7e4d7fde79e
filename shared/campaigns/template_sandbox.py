"""The sandbox campaign templates run in: Jinja's immutable sandbox, with bounds on what one message costs.

A campaign author can write any template, so a template must not be able to stall delivery or
validation, nor change the values it is given. On top of :class:`ImmutableSandboxedEnvironment`
(no ``list.append``, ``dict.update``, ... on the context), each message is held to:

* **numbers**: ``**`` and ``*`` refuse a result over :data:`MAX_INT_BITS` bits before computing it.
  Those operators are intercepted, which also stops Jinja's optimizer folding them at compile time
  (``{{ 7 ** 30000000 }}`` used to hang the compiler; ``BinExpr.as_const`` gives up on intercepted
  operators in a sandbox).
* **sizes**: a string or list a template builds (``*``, ``+``, ``~``, ``{% set %}`` blocks, calls)
  holds at most :data:`MAX_SIZE` characters or items; padding widths (``center``, ``indent``,
  ``ljust``, ``%0999d``, ``{:>999}``, ``batch``, ``slice``, ``tojson``) at most :data:`MAX_WIDTH`.
* **work**: loop iterations (every ``for``, not only ``range``) and calls (macros, methods) count
  against one budget of :data:`MAX_STEPS` per message; ``range()`` longer than that is refused at
  once, and recursive loops are refused when the template is compiled.
* **output**: each rendered field is at most :data:`MAX_OUTPUT` characters, checked as it streams.

Exceeding a bound raises :class:`TemplateLimitExceeded` (a Jinja ``SecurityError``);
``shared.campaigns.render`` turns it into a ``TemplateProblem`` naming the template line, which delivery parks
as a permanent failure and ``nudge validate`` reports as ``file:line``.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_STEPS = 10_000  # loop iterations and calls, per message
MAX_INT_BITS = 4_096  # about 1,233 decimal digits
MAX_SIZE = 100_000  # characters of a string, items of a list, that one operation builds
MAX_WIDTH = 1_000  # a padding width or a batch size
MAX_OUTPUT = 512_000  # characters of one rendered field

LOOP_FILTER = "nudge_counted"  # wraps every loop's iterable (added when the template is parsed)
SIZE_FILTER = "nudge_sized"  # wraps every ``~`` and ``{% set %}`` block
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class TemplateLimitExceeded(SecurityError):
    """A template went past one of this module's bounds (its message names which)."""


@dataclass
class Budget:
    """Loop iterations and calls one message has made so far."""

    steps: int = 0

    def spend(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateLimitExceeded(f"more than {MAX_STEPS} loop iterations and calls in one message")


_budget: ContextVar[Budget | None] = ContextVar("nudge_template_budget", default=None)


class message_budget:
    """One budget for everything rendered inside (a message's subject, bodies and links). A class,
    not a generator-based context manager: it is entered once per message, on the hot path."""

    __slots__ = ("_token", "budget")

    def __enter__(self) -> Budget:
        self.budget = Budget()
        self._token = _budget.set(self.budget)
        return self.budget

    def __exit__(self, *_: object) -> None:
        _budget.reset(self._token)


def _spend() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend()


def sized(value: Any) -> Any:
    """``value``, if it is within :data:`MAX_SIZE` (strings, lists, ...) and :data:`MAX_INT_BITS`."""
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_SIZE:
        raise TemplateLimitExceeded(f"a value of {len(value)} characters or items (at most {MAX_SIZE})")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitExceeded(f"a number of {value.bit_length()} bits (at most {MAX_INT_BITS})")
    return value


def _width(value: Any, what: str) -> None:
    width = len(value) if isinstance(value, str) else value
    if isinstance(width, int) and width > MAX_WIDTH:
        raise TemplateLimitExceeded(f"{what} of {width} (at most {MAX_WIDTH})")


@functools.lru_cache(maxsize=1024)
def _printf(spec: str) -> None:
    """Refuse ``%`` formatting whose width or precision is over :data:`MAX_WIDTH` or given by ``*``."""
    for match in _PRINTF_SPEC.finditer(spec):
        for number in match.groups():
            if number == "*":
                raise TemplateLimitExceeded("a '*' width in % formatting")
            if number is not None:
                _width(int(number), "a % format width")


@functools.lru_cache(maxsize=1024)
def _format_spec(template: str) -> None:
    """Refuse ``str.format`` fields whose width or precision is over :data:`MAX_WIDTH` or nested."""
    for _, _, spec, _ in string.Formatter().parse(template):
        if spec and "{" in spec:
            raise TemplateLimitExceeded("a nested field in a format spec")
        for number in re.findall(r"\d+", spec or ""):
            _width(int(number), "a format width")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left operator right`` before computing it if its result would be over a bound."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        bits = right * math.log2(abs(left))
        if bits > MAX_INT_BITS:
            raise TemplateLimitExceeded(f"a power of about {bits:.0f} bits (at most {MAX_INT_BITS})")
    elif operator == "*":
        if ints:
            if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
                raise TemplateLimitExceeded(f"a product of more than {MAX_INT_BITS} bits")
        elif isinstance(left, int) or isinstance(right, int):
            count, other = (left, right) if isinstance(left, int) else (right, left)
            if hasattr(other, "__len__") and count > 0 and len(other) * count > MAX_SIZE:
                raise TemplateLimitExceeded(
                    f"repeating {len(other)} characters or items {count} times (at most {MAX_SIZE})"
                )
    elif operator == "%" and isinstance(left, str):
        _printf(left)


def _check_call(function: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(function, "__name__", "")
    if name in _PADDING_METHODS:
        for value in (*args, *kwargs.values()):
            _width(value, f"{name}() width")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        old, new = args[0], args[1]
        count = owner.count(old) if old else len(owner) + 1
        if len(owner) + count * (len(new) - len(old)) > MAX_SIZE:
            raise TemplateLimitExceeded(f"replace() building more than {MAX_SIZE} characters")
    elif name == "join" and args and isinstance(args[0], list | tuple):
        items = args[0]
        total = len(owner) * len(items) + sum(len(i) for i in items if isinstance(i, str))
        if total > MAX_SIZE:
            raise TemplateLimitExceeded(f"join() building {total} characters (at most {MAX_SIZE})")


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """A loop's iterable, each item spending one step of the message's budget."""
    budget = _budget.get()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.spend()
        yield item


def bounded_range(*args: int) -> range:
    """``range``, refused beyond :data:`MAX_STEPS` items (the loop would exceed the budget anyway)."""
    result = range(*args)
    if len(result) > MAX_STEPS:
        raise TemplateLimitExceeded(f"range() of {len(result)} items (at most {MAX_STEPS})")
    return result


def _bounded_filter(name: str, position: int, keyword: str, what: str) -> Callable[..., Any]:
    """Jinja's ``name`` filter, refusing a width argument (``position`` after the value) over the bound."""
    original = DEFAULT_FILTERS[name]
    index = position + (1 if getattr(original, "jinja_pass_arg", None) else 0)

    @functools.wraps(original)  # keeps jinja_pass_arg (pass_eval_context, ...)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _width(kwargs.get(keyword, args[index] if len(args) > index else None), what)
        return original(*args, **kwargs)

    return bounded


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    _printf(str(value))
    return str(sized(DEFAULT_FILTERS["format"](value, *args, **kwargs)))


class _Bound(NodeTransformer):
    """Counts every loop's items, sizes every ``~`` and ``{% set %}`` block, refuses recursive loops."""

    def __init__(self, name: str | None, filename: str | None) -> None:
        self.name, self.filename = name, filename

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateSyntaxError(
                "recursive loops are not allowed in campaign templates", node.lineno, self.name, self.filename
            )
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, SIZE_FILTER, [], [], None, None, lineno=node.lineno)

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        node.filter = nodes.Filter(node.filter, SIZE_FILTER, [], [], None, None, lineno=node.lineno)
        return node


class CampaignSandbox(ImmutableSandboxedEnvironment):
    """The environment every campaign template is compiled and rendered in."""

    # Intercepted: checked by call_binop, and never constant-folded by the optimizer.
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        self.globals.pop("lipsum", None)  # placeholder text has no place in a sent message
        self.filters.update(
            {
                LOOP_FILTER: _counted,
                SIZE_FILTER: sized,
                "center": _bounded_filter("center", 1, "width", "center() width"),
                "indent": _bounded_filter("indent", 1, "width", "indent() width"),
                "batch": _bounded_filter("batch", 1, "linecount", "batch() size"),
                "slice": _bounded_filter("slice", 1, "slices", "slice() count"),
                "tojson": _bounded_filter("tojson", 1, "indent", "tojson() indent"),
                "format": _format_filter,
            }
        )

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        bounded: nodes.Template = _Bound(name, filename).visit(tree)
        return bounded

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return sized(self.binop_table[operator](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        _check_call(__obj, args, kwargs)
        return sized(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _format_spec(value.__self__)
        return wrapped


def render_bounded(template: Any, context: Mapping[str, Any]) -> str:
    """Render ``template`` as ``Template.render`` does, stopping once it passes :data:`MAX_OUTPUT`."""
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.root_render_func(template.new_context(dict(context))):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimitExceeded(f"the template renders more than {MAX_OUTPUT} characters")
            parts.append(chunk)
    except Exception:
        template.environment.handle_exception()  # re-raised with the template's line numbers
    return "".join(parts)


def template_line(error: BaseException) -> int | None:
    """The template line an exception raised while rendering was raised at (the innermost one)."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
