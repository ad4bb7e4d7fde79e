"""Threat: a campaign author (anyone who can change campaigns/) stalls delivery or validation.

Templates run in Jinja's immutable sandbox with bounds on what one message may cost: big numbers
(``**``, ``*``), values a template builds (``*``, ``+``, ``~``, padding), loop iterations and calls
(``range`` and every ``for``), and each field's output. A template that exceeds a bound with
constant input is reported by ``nudge validate`` as ``file:line``; one that exceeds it with a
shopper's data is a permanent failure at send time, parked with the reason: never a hang, never
a traceback, and the context the template sees cannot be changed by it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import probe
from moto import mock_aws
from payloads import identify

from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog, load_campaign_file
from shared.campaigns.model import Campaign
from shared.campaigns.render import render_message
from shared.campaigns.yaml_lines import CampaignFileError
from shared.core.clock import SimulatedClock
from shared.core.errors import TemplateProblem

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def campaign(body: str, *, channel: str = "push") -> Campaign:
    content = (
        {"subject": "Hi", "html": body, "text": body} if channel == "email" else {"title": "Hi", "body": body}
    )
    return probe({channel: content})


def render(body: str, context: dict[str, Any] | None = None, channel: str = "push") -> str:
    message = render_message(campaign(body, channel=channel), channel, "k", context or {"user": {}})
    return message.body_text


# -- at send time: every bound is a TemplateProblem (a permanent failure), never a hang ---------------


def test_nested_loops_stop_at_the_iteration_budget() -> None:
    nested = "{% for i in range(event.n) %}\n{% for j in range(event.n) %}.{% endfor %}{% endfor %}"
    with pytest.raises(TemplateProblem, match=r"more than 10000 loop iterations.*\(template line 2\)"):
        render(nested, {"event": {"n": 1000}})
    assert render(nested, {"event": {"n": 50}}) == "\n".join(["." * 50] * 50)


def test_range_beyond_the_budget_is_refused_before_it_runs() -> None:
    with pytest.raises(TemplateProblem, match=r"range\(\) of 100000 items"):
        render("{% for i in range(100000) %}{% endfor %}")


def test_loops_over_data_count_against_the_budget_too() -> None:
    body = (
        "{% for a in event.xs %}{% for b in event.xs %}{% for c in event.xs %}.{% endfor %}{% endfor %}"
        "{% endfor %}"
    )
    with pytest.raises(TemplateProblem, match="loop iterations"):
        render(body, {"event": {"xs": list(range(100))}})


@pytest.mark.parametrize(
    "expression",
    [
        "7 ** 3000000",
        "7 ** 30000000",
        "event.n ** event.n",
        "(10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000)",
        "'x' * 10000000",
        "[1] * event.n",
        "'%0999999d' % 1",
    ],
)
def test_big_numbers_and_repetitions_are_refused(expression: str) -> None:
    with pytest.raises(TemplateProblem, match="template exceeds a limit"):
        render("{{ " + expression + " }}", {"event": {"n": 10**7}})


def test_small_arithmetic_still_works() -> None:
    assert render("{{ 2 ** 10 }} {{ 3 * 4 }} {{ 'ab' * 3 }} {{ '%.2f' % 1.5 }} {{ 1 + 2 }}") == (
        "1024 12 ababab 1.50 3"
    )


def test_doubling_a_string_with_tilde_or_plus_hits_the_size_bound() -> None:
    for op in ("~", "+"):
        body = "{% set x = 'abcd' %}" + f"{{% set x = x {op} x %}}" * 24 + "{{ x | length }}"
        with pytest.raises(TemplateProblem, match="template exceeds a limit"):
            render(body)


@pytest.mark.parametrize(
    "body",
    [
        "{{ 'x' | center(10000000) }}",
        "{{ 'x' | indent(10000000, true) }}",
        "{{ '%099999999d' | format(1) }}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ '{:>100000000}'.format(1) }}",
        "{{ [1] | batch(100000000, 'x') | list }}",
    ],
)
def test_padding_widths_are_bounded(body: str) -> None:
    with pytest.raises(TemplateProblem, match="template exceeds a limit"):
        render(body)


def test_a_field_longer_than_the_output_bound_is_refused() -> None:
    body = "{% for i in range(event.n) %}{{ event.chunk }}{% endfor %}"
    with pytest.raises(TemplateProblem, match=r"renders more than 512000 characters"):
        render(body, {"event": {"n": 60, "chunk": "y" * 10_000}})
    assert len(render(body, {"event": {"n": 50, "chunk": "y" * 10_000}})) == 500_000


def test_recursive_macros_are_bounded_by_the_same_budget() -> None:
    body = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(event.n) }}"
    with pytest.raises(TemplateProblem, match="template exceeds a limit"):
        render(body, {"event": {"n": 16}})


def test_a_template_cannot_change_the_values_it_is_given() -> None:
    user = {"first_name": "Ann"}
    with pytest.raises(TemplateProblem, match="blocked by the sandbox"):
        render("{{ user.update({'first_name': 'Eve'}) }}{{ user.first_name }}", {"user": user})
    with pytest.raises(TemplateProblem, match="blocked by the sandbox"):
        render("{{ event.products.append(1) }}", {"event": {"products": []}})
    assert user == {"first_name": "Ann"}


def test_the_shipped_kind_of_template_renders_as_before() -> None:
    body = (
        "Hi {{ user.first_name | default('there') }}: {% for item in event.products | default([]) %}"
        "{{ item.name }} x {{ item.quantity | default(1) }}{% if not loop.last %}, {% endif %}{% endfor %}"
        " ({{ '%.2f' | format(event.total | float) }})"
    )
    context = {
        "user": {},
        "event": {"products": [{"name": "Shoe"}, {"name": "Sock", "quantity": 2}], "total": 9},
    }
    assert render(body, context) == "Hi there: Shoe x 1, Sock x 2 (9.00)"


# -- nudge validate: every problem is file:line, none hangs or prints a traceback ----------------------

BAD = {
    "loops.yaml": ("{% for i in range(100000) %}\n{% for j in range(100000) %}.{% endfor %}{% endfor %}", 1),
    "power.yaml": ("ok\n{{ 7 ** 3000000 }}", 2),
    "hang.yaml": ("ok\nok\n{{ 7 ** 30000000 }}", 3),
    "mutate.yaml": ("{{ user.update({'first_name': 'x'}) }}", 1),
    "nested.yaml": (
        "{% for i in range(1000) %}{% for j in range(1000) %}.{% endfor %}{% endfor %}",
        1,
    ),
}


def write_campaign(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    block = textwrap.indent(body, " " * 6)
    path.write_text(
        f"id: {path.stem}\nname: Probe\nlevel: L4\ntrigger:\n  event: Order Completed\nchannels:\n"
        f"  push:\n    title: Hi\n    body: |\n{block}\n"
    )
    return path


@pytest.mark.parametrize("name", sorted(BAD))
def test_load_reports_each_bound_with_its_file_and_line(name: str, tmp_path: Path) -> None:
    body, line = BAD[name]
    path = write_campaign(tmp_path, name, body)
    with pytest.raises(CampaignFileError) as raised:
        load_campaign_file(path)
    [problem] = raised.value.problems
    assert problem.startswith(f"{path}:{9 + line}: channels.push.body: "), problem
    assert "template exceeds a limit" in problem or "templates cannot change values" in problem, problem


def test_nudge_validate_prints_file_line_messages_and_no_traceback(tmp_path: Path) -> None:
    for name, (body, _) in BAD.items():
        write_campaign(tmp_path, name, body)
    done = subprocess.run(
        [sys.executable, "-m", "nudge.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(BAD), lines
    for name, (_, line) in BAD.items():
        assert any(out.startswith(f"{tmp_path / name}:{9 + line}: ") for out in lines), (name, lines)


# -- on moto: the job is parked with the reason, nothing is sent ----------------------------------------


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    body = "{% for i in range(event.n) %}{% for j in range(event.n) %}.{% endfor %}{% endfor %}"
    looping = campaign(body, channel="in_app")
    with mock_aws():
        yield LocalRuntime(Catalog([looping]), SimulatedClock(START), log_level="CRITICAL")


def test_a_message_over_a_bound_is_parked_with_the_reason_not_retried(runtime: LocalRuntime) -> None:
    runtime.publish([identify("u1", "i1")])
    runtime.drain()
    trigger = TriggerContext(
        event="Order Completed", message_id="o-1", timestamp=START, properties={"n": 200}
    )
    job = DeliveryJob.for_trigger("probe", "u1", trigger)
    result = runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()]))

    assert result == {"batchItemFailures": []}  # parked at once: retrying cannot fix it
    [parked] = runtime.parked()
    assert parked.queue == "delivery-dlq"
    assert "template exceeds a limit" in parked.reason and "loop iterations" in parked.reason
    assert runtime.sent == []
