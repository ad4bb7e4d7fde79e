"""The mutation catalog stays true to the code: every mutant still applies, once, and still parses.

``make mutate`` is on demand (tens of minutes); this check is in the suite, so a refactor that moves
a decision must move its mutants too, instead of leaving a catalog that silently measures nothing.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "mutation"))

from mutate import CatalogError, Module, Mutant, Outcome, listing, load_catalog, main, score  # noqa: E402

MODULES = load_catalog()
MUTANTS = [x for m in MODULES for x in m.mutants]


def test_the_catalog_covers_the_core_decision_modules() -> None:
    assert {m.name for m in MODULES} >= {
        "guards",
        "attribution",
        "audience",
        "patterns",
        "delivery",
        "profile",
        "links",
        "identity",
    }


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_each_module_names_tests_that_exist(module) -> None:
    assert module.tests
    for t in module.tests:
        assert (ROOT / t.split("::")[0]).exists(), f"{module.name}: test path {t} does not exist"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda x: f"{x.module}/{x.id}")
def test_each_mutant_applies_once_and_still_parses(mutant: Mutant) -> None:
    source = (ROOT / mutant.file).read_text()
    mutated = mutant.apply(source)
    assert mutated != source
    ast.parse(mutated, filename=mutant.file)


def test_a_mutant_whose_text_is_gone_is_an_error_naming_it() -> None:
    gone = Mutant("m", "gone", "f.py", find="x < 1", replace="x <= 1", why="")
    with pytest.raises(CatalogError, match=r"m/gone: `find` occurs 0 times in f\.py"):
        gone.apply("y = 2\n")
    twice = Mutant("m", "twice", "f.py", find="x", replace="y", why="")
    with pytest.raises(CatalogError, match="occurs 2 times"):
        twice.apply("x = x\n")


def test_the_score_leaves_equivalent_mutants_out_and_counts_timeouts_as_kills() -> None:
    outcomes = [
        Outcome("m", "a", 1, "killed"),
        Outcome("m", "b", 1, "timeout"),
        Outcome("m", "c", 1, "survived"),
        Outcome("m", "d", 1, "equivalent"),
    ]
    assert score(outcomes) == (3, 2, 1, pytest.approx(200 / 3))


def test_the_listing_names_every_mutant_of_every_catalog_once(capsys) -> None:
    assert main(["--list"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == listing(MODULES)
    for m in MODULES:
        assert sum(line.startswith(f"{m.name}  ({m.file};") for line in printed) == 1
    ids = [line.split()[0] for line in printed if line.startswith("  ")]
    assert len(ids) == len(MUTANTS)
    assert sorted(ids) == sorted(x.id for x in MUTANTS)


def test_the_listing_reads_a_mutant_line_in_its_own_file(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("limit = 3\n")
    (tmp_path / "parser.py").write_text("import re\n\n\nlimit = 3\n")
    mutants = (
        Mutant("m", "in-module", "rules.py", find="limit = 3", replace="limit = 4", why="w1"),
        Mutant(
            "m", "elsewhere", "parser.py", find="limit = 3", replace="limit = 4", why="w2", equivalent="e"
        ),
    )
    module = Module("m", "rules.py", ("tests/t.py",), mutants)
    assert listing([module], root=tmp_path) == [
        "m  (rules.py; tests: tests/t.py)",
        f"  {'in-module':<40} line    1  w1",
        f"  {'elsewhere':<40} line    4 of parser.py  w2  [equivalent: e]",
    ]


def test_a_mutant_line_whose_text_is_gone_is_an_error_naming_it() -> None:
    gone = Mutant("m", "gone", "f.py", find="x < 1", replace="x <= 1", why="")
    with pytest.raises(CatalogError, match=r"m/gone: `find` does not occur in f\.py"):
        gone.line("y = 2\n")
