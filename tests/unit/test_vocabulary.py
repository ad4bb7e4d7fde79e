"""The domain's named values are written once: no copied string of a channel, level, decision or ``anon:``.

A status spelled as a string in a report type-checks and silently stops matching when the status is
renamed; named through :mod:`shared.core.vocabulary` (or ``ANONYMOUS_PREFIX``) it moves with it. The
scan reads every module of ``shared``, ``functions``, ``nudge`` and ``infra`` with ``ast`` and fails on
a string constant equal to one of those values, naming ``file:line``. Docstrings are prose, not values;
an f-string's text is not a constant equal to a value. The members themselves keep the values stored
data holds (pinned below), so naming them changes nothing that is written.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.core.identity import ANONYMOUS_PREFIX
from shared.core.vocabulary import EMAIL_TRAIT, Channel, DecisionStatus, Level

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("shared", "functions", "nudge", "infra")
VALUES = frozenset({*Channel, *Level, *DecisionStatus, ANONYMOUS_PREFIX})

# Where the values are defined.
DEFINITIONS = frozenset({"shared/core/vocabulary.py", "shared/core/identity.py"})
# Being rewritten by another change; the lead names the vocabulary there and then deletes this entry.
NOT_YET: frozenset[str] = frozenset()
# The same word meaning something else: (file, value) -> (occurrences, what it is).
OTHER_MEANINGS: dict[tuple[str, str], tuple[int, str]] = {
    ("infra/function.py", "L1"): (1, "the cdk-nag rule id AwsSolutions-L1 (Lambda runtime)"),
    ("shared/deployment/naming.py", "email"): (1, "the SES configuration set's name"),
    ("functions/ingest/handler.py", "failed"): (1, "the ingest summary's count of failed records"),
    ("functions/ingest/handler.py", "erased"): (1, "the ingest summary's count of events of erased shoppers"),
    ("functions/privacy/handler.py", "erased"): (1, "the erasure response's field"),
    ("shared/delivery/feedback.py", "suppressed"): (1, "FeedbackOutcome.status: the address was suppressed"),
    ("shared/measurement/attribution.py", "cancelled"): (1, "a conversion's field: order cancelled"),
    ("shared/experiments/store.py", "sent"): (1, "an experiment item's field: sends counted per variant"),
    ("nudge/report/experiments.py", "sent"): (1, "a variant's counted sends in the report's JSON"),
    ("nudge/report/funnels.py", "sent"): (2, "a journey step's count of sends in the funnel's JSON"),
}


def literals(source: str) -> Iterator[tuple[int, str]]:
    """Each string constant of ``source`` equal to a vocabulary value (not docstrings), with its line."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in VALUES
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def copied_values() -> tuple[list[str], Counter[tuple[str, str]]]:
    found, other = [], Counter[tuple[str, str]]()
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in DEFINITIONS or name in NOT_YET:
                continue
            for line, value in literals(path.read_text()):
                if (name, value) in OTHER_MEANINGS:
                    other[name, value] += 1
                else:
                    found.append(f"{name}:{line}: {value!r}")
    return sorted(found), other


def test_no_module_copies_a_channel_level_decision_or_the_anonymous_prefix() -> None:
    found, _ = copied_values()
    assert not found, "name the member of shared.core.vocabulary (or ANONYMOUS_PREFIX):\n" + "\n".join(found)


def test_each_other_meaning_of_a_word_is_where_and_as_often_as_listed() -> None:
    _, other = copied_values()
    assert dict(other) == {key: count for key, (count, _) in OTHER_MEANINGS.items()}


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('if status == "sent":\n    pass\n', [(1, "sent")]),
        ('x = {"email": 1}\n', [(1, "email")]),
        ("def f():\n    return uid.startswith('anon:')\n", [(2, "anon:")]),
        ('LEVELS = ("L1", "L4")\n', [(1, "L1"), (1, "L4")]),
        ('def f():\n    """sent, capped or failed"""\n    return "capped"\n', [(3, "capped")]),
        ('"""skipped"""\nlog.info("sent %s", key)\nx = f"{c} sent"\n', []),
    ],
)
def test_the_scan_finds_a_copied_value_and_skips_docstrings_and_prose(
    snippet: str, expected: list[tuple[int, str]]
) -> None:
    assert list(literals(snippet)) == expected


def test_the_members_keep_the_values_stored_data_holds() -> None:
    assert [*Channel] == ["email", "push", "in_app"]
    assert [*Level] == ["L1", "L2", "L3", "L4"]
    assert [level.rank for level in Level] == [1, 2, 3, 4]
    assert [*DecisionStatus] == [
        "sent",
        "skipped",
        "withheld_holdout",
        "withheld_global_control",
        "no_consent",
        "suppressed",
        "deferred_quiet_hours",
        "deferred_send_time",
        "duplicate",
        "capped",
        "failed",
        "cancelled",
        "outcome_unknown",
        "erased",
        "claimed",
        "waiting_for_profile",
    ]
    assert (ANONYMOUS_PREFIX, EMAIL_TRAIT) == ("anon:", "email")


def test_a_member_is_stored_and_looked_up_as_its_plain_string() -> None:
    assert json.dumps({Channel.IN_APP: [DecisionStatus.SENT, Level.L4]}) == '{"in_app": ["sent", "L4"]}'
    assert {"email": 1}[Channel.EMAIL] == 1 and {Channel.EMAIL: 1}["email"] == 1
    assert f"{Level.L2} {DecisionStatus.CAPPED}" == "L2 capped"
