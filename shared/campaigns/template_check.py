"""Campaign templates checked before deploy: syntax, and variables that no shopper can have.

A template renders with ``user`` (traits, aggregates and scores), ``cart`` (the open cart),
``campaign`` (id, name), ``product("id")`` (a catalog product), ``recommendations(n)`` (the shopper's
recommended products) and, for real-time campaigns only,
``event`` (the triggering event's properties). A missing value renders empty at send time, which is
right for a shopper who has no first name, but a name that *no* shopper can have
(``user.frist_name``, ``event.order_id`` in a weekly campaign) is a mistake, so ``nudge validate``
and ``cdk synth`` report it with its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes

from shared.campaigns.audience.vocabulary import Vocabulary
from shared.campaigns.render import bound_problem, sandbox
from shared.campaigns.template_sandbox import TemplateLimitExceeded, check_binop
from shared.core.vocabulary import EMAIL_TRAIT, Channel
from shared.profiles.profile import Cart

# Segment's reserved identify traits (as the profile names them) and what ingest derives.
SEGMENT_TRAITS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        EMAIL_TRAIT,
        "phone",
        "birthday",
        "birth_year",
        "age",
        "gender",
        "title",
        "username",
        "website",
        "avatar",
        "description",
        "company",
        "created_at",
        "id",
        "city",
        "country",
        "language",
        "timezone",
        "push_endpoint",
    }
)
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    Channel.EMAIL: ("subject", "html", "text"),
    Channel.PUSH: ("title", "body", "deep_link"),
    Channel.IN_APP: ("title", "body", "cta_label", "cta_url"),
}
CAMPAIGN_FIELDS = frozenset({"id", "name"})
ROOTS = ("user", "cart", "campaign", "event")
# Set by delivery: the signed one-click unsubscribe link (email); ``product("p-17")``, a catalog product;
# ``recommendations(3)``, the shopper's recommended products from the catalog.
PLAIN_VARIABLES = ("unsubscribe_url", "product", "recommendations")
# Methods that change a list, dict or set: the sandbox refuses them at send time, the check here
# reports them wherever they are (also inside an {% if %} the stand-in values never enter).
MUTATING_METHODS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear", "update", "setdefault"}
    | {"popitem", "add", "discard", "difference_update", "intersection_update"}
    | {"symmetric_difference_update"}
)
Locate = Callable[[tuple[str | int, ...]], tuple[Path, int]]


def user_fields(vocabulary: Vocabulary) -> frozenset[str]:
    """Every ``user.<name>`` a profile can fill: traits, aggregates and scores."""
    return SEGMENT_TRAITS | {a.replace(".", "_") for a in vocabulary.attributes} | {"user_id"}


def content_locations(data: Mapping[str, Any]) -> list[tuple[str | int, ...]]:
    """Where a file's ``channels:`` are: the campaign's, each send step's of a journey, each variant's."""
    found: list[tuple[str | int, ...]] = []
    if isinstance(data.get("channels"), Mapping):
        found.append(("channels",))
    found += _variant_locations(data, ())
    steps = data.get("steps")
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if isinstance(step, Mapping) and isinstance(step.get("channels"), Mapping):
            found.append(("steps", index, "channels"))
        if isinstance(step, Mapping):
            found += _variant_locations(step, ("steps", index))
    return found


def _variant_locations(data: Mapping[str, Any], base: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    """The ``channels:`` of each variant of a campaign or a send step (docs/experiments.md)."""
    variants = data.get("variants")
    return [
        (*base, "variants", index, "channels")
        for index, variant in enumerate(variants if isinstance(variants, list) else [])
        if isinstance(variant, Mapping) and isinstance(variant.get("channels"), Mapping)
    ]


def _at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def check_campaign_templates(data: Mapping[str, Any], vocabulary: Vocabulary, locate: Locate) -> list[str]:
    """Every template problem of a campaign file's (already parsed) ``data``, as ``file:line: field:
    message``. Works on the raw data so template problems are reported beside any other problem."""
    problems: list[str] = []
    known = {
        "user": user_fields(vocabulary),
        "cart": frozenset(Cart.model_fields),
        "campaign": CAMPAIGN_FIELDS,
    }
    has_event = data.get("trigger") is not None
    for base in content_locations(data):
        channels = _at(data, base)
        for channel, fields in TEMPLATE_FIELDS.items():
            content = channels.get(channel) if isinstance(channels, Mapping) else None
            if not isinstance(content, Mapping):
                continue
            for field in fields:
                source = content.get(field)
                if not isinstance(source, str) or not source:
                    continue
                loc = (*base, channel, field)
                path, first_line = locate(loc)
                label = ".".join(str(part) for part in loc)
                for line, message in template_problems(source, known, has_event=has_event):
                    problems.append(f"{path}:{first_line + line - 1}: {label}: {message}")
    return problems


def template_problems(
    source: str, known: dict[str, frozenset[str]], *, has_event: bool
) -> list[tuple[int, str]]:
    """(line within the template, message) for a syntax error, a variable no shopper can have, a
    bound the template exceeds (``shared.campaigns.template_sandbox``) or a value it tries to change."""
    environment = sandbox(True)
    tree = _parsed(source)
    if isinstance(tree, tuple):
        return [tree]
    problems = _cost_problems(source, tree, has_event)
    undeclared = meta.find_undeclared_variables(tree) - set(environment.globals)
    for name in sorted(undeclared - set(ROOTS) - set(PLAIN_VARIABLES)):
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), 1)
        names = (*ROOTS, *PLAIN_VARIABLES)
        problems.append(
            (line, f"unknown variable {name!r}{_suggest(name, names)}; templates see {', '.join(names)}")
        )
    for node, root, attribute in _root_attributes(tree, undeclared):
        if root == "event":
            if not has_event:
                problems.append(
                    (node.lineno, f"event.{attribute}: 'event' is only set for real-time (L4) campaigns")
                )
            continue
        if attribute not in known[root] and attribute not in MUTATING_METHODS:
            problems.append(
                (
                    node.lineno,
                    f"{root}.{attribute}: no shopper can have this{_suggest(attribute, known[root], root)}",
                )
            )
    if (
        "event" in undeclared
        and not has_event
        and not any(r == "event" for _, r, _ in _root_attributes(tree, undeclared))
    ):
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == "event"), 1)
        problems.append((line, "'event' is only set for real-time (L4) campaigns"))
    return sorted(problems)


def _cost_problems(source: str, tree: nodes.Template, has_event: bool) -> list[tuple[int, str]]:
    """Constant arithmetic over the bounds and calls that change values, wherever they are; then one
    render with stand-in values (empty user, cart and event) that the budget and bounds hold to."""
    problems: list[tuple[int, str]] = []
    for node in tree.find_all((nodes.Pow, nodes.Mul, nodes.Mod)):
        if isinstance(node.left, nodes.Const) and isinstance(node.right, nodes.Const):
            try:
                check_binop(node.operator, node.left.value, node.right.value)
            except TemplateLimitExceeded as error:
                problems.append((node.lineno, f"template exceeds a limit: {error}"))
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Getattr) and call.node.attr in MUTATING_METHODS:
            problems.append(
                (call.lineno, f"templates cannot change values: .{call.node.attr}() is not allowed")
            )
    if not problems:
        found = _trial(source, has_event)
        if found is not None:
            problems.append(found)
    return problems


@lru_cache(maxsize=512)
def _trial(source: str, has_event: bool) -> tuple[int, str] | None:
    stand_in: dict[str, Any] = {
        "user": {},
        "cart": {},
        "campaign": {"id": "c", "name": "c"},
        "product": lambda product_id: {},
        "recommendations": lambda n=3: [],
    }
    if has_event:
        stand_in["event"] = {}
    return bound_problem(source, {**stand_in, "unsubscribe_url": "https://example.invalid/unsubscribe"})


@lru_cache(maxsize=512)
def _parsed(source: str) -> nodes.Template | tuple[int, str]:
    """The template's syntax tree (read, never changed), or its syntax error as (line, message).
    Cached: a campaign folder is read at every synth, validate and catalog load, and templates repeat."""
    environment = sandbox(True)
    try:
        environment.from_string(source)  # also resolves filters and tests, e.g. "No filter named 'x'"
        return environment.parse(source)
    except TemplateSyntaxError as error:
        return (error.lineno or 1, f"template error: {error.message}")
    except RecursionError:
        return (1, "template error: nested too deeply to compile")
    except Exception as error:
        return (1, f"template error: {type(error).__name__}: {error}")


def _root_attributes(tree: nodes.Template, roots: Iterable[str]) -> list[tuple[nodes.Node, str, str]]:
    """``user.x`` / ``user['x']`` uses of the template's root variables (not of loop variables)."""
    wanted = set(roots) & set(ROOTS)
    found: list[tuple[nodes.Node, str, str]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not (isinstance(target, nodes.Name) and target.name in wanted):
            continue
        if isinstance(node, nodes.Getattr):
            found.append((node, target.name, node.attr))
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            found.append((node, target.name, node.arg.value))
    return found


def _suggest(name: str, known: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
    if not close:
        return ""
    return f" (did you mean {prefix + '.' if prefix else ''}{close[0]}?)"
