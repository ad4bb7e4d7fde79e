"""Fuzzing campaign files: the shipped campaigns, mutated field by field and byte by byte, are either
valid or reported as ``file:line: field: message``, never a crash of ``nudge validate`` or synth.

2,500 generated files (``max_examples`` below), plus hand-made hostile YAML.
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes import CAMPAIGNS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.campaigns.loader import load_campaign_dir, load_campaign_file
from shared.campaigns.model import Campaign
from shared.campaigns.yaml_lines import CampaignFileError

SOURCES = {p.name: p.read_text() for p in sorted(CAMPAIGNS.glob("*.yaml")) if not p.name.startswith("_")}
DATA = {name: yaml.safe_load(text) for name, text in SOURCES.items()}


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A campaign folder with the shipped templates, so html_file references resolve."""
    with tempfile.TemporaryDirectory() as directory:
        shutil.copytree(CAMPAIGNS / "templates", Path(directory) / "templates")
        yield Path(directory)


durations = st.sampled_from(
    ["0m", "1h", "7d", "8d", "49h", "-1h", "1w", "1.5h", "h", "", "99999999999999999999d", "10**9d", " 3 d "]
)
expressions = st.sampled_from(
    [
        "cron(0 10 ? * SAT *)",
        "cron(99 99 ? * SAT *)",
        "cron(0 10 * * * *)",
        "rate(0 days)",
        "rate(99999999999999999999 days)",
        "rate(1 fortnight)",
        "at(2026-02-30T00:00:00)",
        "at(9999-12-31T23:59:59)",
        "cron()",
        "",
    ]
)
audience_rules = st.sampled_from(
    [
        "country in [ID, MY]",
        "country in [",
        'count("Product Viewed", 7d) >= 3',
        'count("Product Viewed", 99999999999999999999d) >= 3',
        'count("Nope", 7d) >= 3',
        "age between 34 and 18",
        "age between 18 and",
        "rfm.segment == champions",
        "purchase_propensity >= NaN",
        "purchase_propensity >= 1e999",
        'last("Order Completed") older_than 60d',
        "any(country in [ID], age > 3",
        "(" * 500 + "age > 1" + ")" * 500,
        "not not not",
        "",
    ]
)
templates = st.sampled_from(
    [
        "{{ user.first_name }}",
        "{{ user.frist_name }}",
        "{{",
        "{% for %}",
        "{% for x in user %}{{ x }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
        "{{ " + "[" * 300 + "]" * 300 + " }}",
        "{% if %}{% endif %}",
        "{{ event.total | nosuchfilter }}",
        "{{ x is nosuchtest }}",
        "{% extends 'other.html' %}",
        "{% include '/etc/passwd' %}",
        "{% import 'x' as y %}",
        "\x00",
        "\u202e{{ user.city }}",
    ]
)
files = st.sampled_from(
    ["templates/abandoned-cart.html", "../../etc/passwd", "/etc/passwd", "missing.html", "", "templates"]
)
weird = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(
        ["2026-11-20", "2026-11-20T00:00:00", "2026-11-20T00:00:00Z", "L5", "email", "Mars/Olympus"]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
instants = st.sampled_from(
    ["2026-11-20", "2026-11-20 10:00:00", "2026-11-20T00:00:00Z", "2026-11-20T00:00:00+14:00", "9999-12-31"]
)
filters = st.sampled_from(
    [{"total": [{"numeric": [">", float("nan")]}]}, {"day": "2026-01-01"}, {"x": {"y": []}}, {"a": [None]}]
).map(lambda f: yaml.safe_load(yaml.safe_dump(f)) if "day" not in f else yaml.safe_load("day: 2026-01-01"))
values = st.one_of(weird, durations, expressions, audience_rules, templates, files, instants)
# Hostile values chosen by the field they land in, so the validators that read them are reached.
BY_FIELD: dict[str, st.SearchStrategy[Any]] = {
    **dict.fromkeys(["delay", "throttle", "within"], durations),
    **dict.fromkeys(["start", "end"], instants.map(lambda t: yaml.safe_load(f"v: {t}")["v"])),
    "expression": expressions,
    "audience": st.lists(audience_rules, max_size=3),
    "where": st.lists(
        st.sampled_from(["properties.total > 1e999", "properties.a ==", "total > 3"]), max_size=2
    ),
    "properties": filters,
    **dict.fromkeys(
        ["subject", "html", "text", "title", "body", "deep_link", "cta_label", "cta_url"], templates
    ),
    **dict.fromkeys(["html_file", "text_file"], files),
}


def value_for(draw: st.DrawFn, key: Any) -> Any:
    special = BY_FIELD.get(key) if isinstance(key, str) else None
    if special is not None and draw(st.booleans()):
        return draw(special)
    return draw(values)


def paths_of(data: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths_of(value, (*at, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths_of(value, (*at, index))


# Field names the mutations may add: real ones (so a value lands where a validator reads it) and not.
FIELDS = [
    "start", "end", "delay", "throttle", "within", "count", "cancel_if", "where", "properties", "repeat",
    "once_per_user", "expression", "timezone", "audience", "html_file", "text_file", "html", "text",
    "subject", "caps", "per_day", "per_week", "channel_preference", "holdout_percent", "priority",
    "window_hours", "event", "level", "schedule", "trigger", "expires_after_days", "nonsense",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """(file name, YAML text): a shipped campaign with a few fields replaced, removed or added."""
    name = draw(st.sampled_from(sorted(DATA)))
    data = copy.deepcopy(DATA[name])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(paths_of(data))[1:]))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "add"]))
        if action == "delete":
            del parent[path[-1]]
            if isinstance(parent, list):
                break  # later paths may point past the end
        elif action == "add" and isinstance(parent[path[-1]], dict):
            key = draw(st.sampled_from(FIELDS))
            parent[path[-1]][key] = value_for(draw, key)
        else:
            key = path[-1] if not isinstance(path[-1], int) else path[-2] if len(path) > 1 else None
            parent[path[-1]] = value_for(draw, key)
    return name, yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)


@st.composite
def byte_damaged(draw: st.DrawFn) -> tuple[str, str]:
    """A shipped campaign's text cut, spliced or sprinkled with characters YAML treats specially."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    text = SOURCES[name]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        insert = draw(
            st.sampled_from(
                ["\t", ":", "- ", "&a ", "*a", "!!python/object:os.system ", "{", "'", "\x00", "\ufeff"]
            )
            | st.text(max_size=5)
        )
        cut = draw(st.integers(0, 20))
        text = text[:at] + insert + text[at + cut :]
    return name, text


HOSTILE_FILES = {
    "recursive-alias.yaml": "id: &a [*a]\nname: x\n",
    "self-merge.yaml": "a: &a {b: *a}\nid: x\n",
    "laughs.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    + "id: x\n",
    "deep.yaml": "id: " + "[" * 2000 + "]" * 2000 + "\n",
    "deep-map.yaml": "id: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "python-object.yaml": "id: !!python/object/apply:os.system ['echo pwned']\n",
    "list.yaml": "- id: x\n",
    "empty.yaml": "",
    "huge-int.yaml": "id: x\npriority: " + "9" * 5000 + "\n",
}


def assert_clear_problems(path: Path, error: CampaignFileError) -> None:
    """Every problem starts ``file:line:`` (the campaign's, or its template file's) and then says which
    field (or that the YAML is unreadable)."""
    assert error.problems
    files = rf"({re.escape(str(path))}|{re.escape(str(path.parent / 'templates'))}/[\w.-]+)"
    for problem in error.problems:
        assert re.fullmatch(rf"{files}:\d+: \S[^\n]*", problem), problem


def check(workdir: Path, name: str, text: str | bytes) -> Campaign | None:
    path = workdir / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    try:
        return load_campaign_file(path)
    except CampaignFileError as error:
        assert_clear_problems(path, error)
        return None


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=mutated())
def test_mutated_campaign_fields_are_valid_or_reported_with_file_line_and_field(
    workdir: Path, case: tuple[str, str]
) -> None:
    check(workdir, *case)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=byte_damaged())
def test_damaged_campaign_text_is_valid_or_reported_with_file_and_line(
    workdir: Path, case: tuple[str, str]
) -> None:
    check(workdir, *case)


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_yaml_is_reported_not_crashed_on(workdir: Path, name: str) -> None:
    assert check(workdir, name, HOSTILE_FILES[name]) is None


def test_a_file_that_is_not_utf8_is_reported(workdir: Path) -> None:
    path = workdir / "latin1.yaml"
    path.write_bytes("id: caf\xe9\nname: x\n".encode("latin-1"))
    with pytest.raises(CampaignFileError) as error:
        load_campaign_file(path)
    assert error.value.problems == [f"{path}:1: the file is not UTF-8 text (byte 0xe9 at position 7)"]


def test_a_broken_file_in_a_folder_is_reported_beside_the_others(tmp_path: Path) -> None:
    shutil.copytree(CAMPAIGNS, tmp_path, dirs_exist_ok=True)
    (tmp_path / "zz-broken.yaml").write_text(HOSTILE_FILES["recursive-alias.yaml"])
    with pytest.raises(CampaignFileError) as error:
        load_campaign_dir(tmp_path)
    assert [p for p in error.value.problems if "zz-broken.yaml" not in p] == []
    assert any(p.startswith(f"{tmp_path / 'zz-broken.yaml'}:1: ") for p in error.value.problems)
