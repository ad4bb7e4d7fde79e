"""Mutation testing of the core decision modules: does a plausible one-line bug break a test?

Each module's catalog (``tests/mutation/catalog/<module>.yaml``) names the source file, the tests
that pin it, and hand-written mutants: a ``find`` text that occurs exactly once in the file, its
``replace``, and what the mutant would do to a shopper (``why``). A mutant that cannot change
behaviour carries ``equivalent: <reason>`` and is left out of the score.

For every mutant the runner copies the working tree once per worker (the copy's ``shared/`` shadows
the editable install, and subprocesses inherit ``PYTHONPATH``), applies the mutant, and runs the
module's tests with ``-x``: a failing test kills it, a passing run lets it survive, a run over the
time limit counts as killed (the CI would time out). ``--confirm`` reruns each survivor against
the whole suite, so a listed survivor is one the whole suite lets through.

    make mutate                                   # every module, 2 workers
    make mutate ARGS="--module guards --module links"
    make mutate ARGS="--tests-from 9607fae"       # the score of an older suite against today's catalog
    .venv/bin/python tests/mutation/mutate.py --module delivery --only holdout-before-cancel -v
    .venv/bin/python tests/mutation/mutate.py --list

Not part of ``make test``: it takes about ten minutes. ``tests/unit/test_mutation_catalog.py`` (in the
suite) checks that every mutant still applies to the code, so the catalog cannot silently rot.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CATALOG = Path(__file__).resolve().parent / "catalog"
MIN_SCORE = 90.0


class CatalogError(ValueError):
    """A catalog entry that cannot be applied: names the file and the mutant."""


@dataclass(frozen=True)
class Mutant:
    module: str
    id: str
    file: str
    find: str
    replace: str
    why: str
    equivalent: str | None = None

    def apply(self, source: str) -> str:
        count = source.count(self.find)
        if count != 1:
            raise CatalogError(
                f"{self.module}/{self.id}: `find` occurs {count} times in {self.file} "
                f"(needs exactly 1): {self.find!r}"
            )
        return source.replace(self.find, self.replace)

    def line(self, source: str) -> int:
        """The line of ``source`` (the text of this mutant's own ``file``) where ``find`` starts."""
        at = source.find(self.find)
        if at < 0:
            raise CatalogError(
                f"{self.module}/{self.id}: `find` does not occur in {self.file}: {self.find!r}"
            )
        return source[:at].count("\n") + 1


@dataclass(frozen=True)
class Module:
    name: str
    file: str
    tests: tuple[str, ...]
    mutants: tuple[Mutant, ...]


@dataclass
class Outcome:
    module: str
    id: str
    line: int
    status: str  # killed | survived | timeout | equivalent | error
    seconds: float = 0.0
    killed_by: str = ""
    why: str = ""
    equivalent: str | None = None
    confirmed: bool = False
    output_tail: list[str] = field(default_factory=list)


def load_catalog(directory: Path = CATALOG) -> list[Module]:
    modules = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        where = path.relative_to(ROOT)
        for key in ("file", "tests", "mutants"):
            if key not in raw:
                raise CatalogError(f"{where}: missing `{key}`")
        seen: set[str] = set()
        mutants = []
        for i, entry in enumerate(raw["mutants"]):
            missing = [k for k in ("id", "find", "replace", "why") if k not in entry]
            if missing:
                raise CatalogError(f"{where}: mutants[{i}] lacks {', '.join(missing)}")
            if entry["id"] in seen:
                raise CatalogError(f"{where}: mutant id {entry['id']!r} appears twice")
            seen.add(entry["id"])
            mutants.append(
                Mutant(
                    module=path.stem,
                    id=entry["id"],
                    file=entry.get("file", raw["file"]),
                    find=entry["find"],
                    replace=entry["replace"],
                    why=entry["why"],
                    equivalent=entry.get("equivalent"),
                )
            )
        modules.append(Module(path.stem, raw["file"], tuple(raw["tests"]), tuple(mutants)))
    return modules


def _copy_tree(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for rel in files:
        src = ROOT / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


def _tests_from(dest: Path, rev: str) -> None:
    """Replace the copy's tests/ with revision ``rev``'s, to score the suite as it was then."""
    shutil.rmtree(dest / "tests")
    archive = subprocess.run(
        ["git", "archive", rev, "tests"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


class Worker:
    def __init__(self, index: int, python: str, timeout_factor: float, tests_from: str | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"nudge-mutate-{index}-"))
        self.python = python
        self.timeout_factor = timeout_factor
        _copy_tree(self.dir)
        if tests_from:
            _tests_from(self.dir, tests_from)
        self.baseline: dict[str, float] = {}
        self.pristine: dict[str, str] = {}

    def existing(self, tests: tuple[str, ...] | list[str]) -> list[str]:
        """The selected tests this copy has (an older revision may lack newer test files)."""
        return [t for t in tests if (self.dir / t.split("::")[0]).exists()]

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _pytest(
        self, tests: tuple[str, ...] | list[str], timeout: float | None
    ) -> tuple[int | None, str, float]:
        tests = self.existing(tests)
        if not tests:
            return 0, "no test of this selection exists in this copy", 0.0
        env = {**os.environ, "PYTHONPATH": str(self.dir), "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [
            self.python,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-header",
            "-rfE",
            *tests,
        ]
        start = time.monotonic()
        try:
            done = subprocess.run(cmd, cwd=self.dir, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return None, out, time.monotonic() - start
        return done.returncode, done.stdout + done.stderr, time.monotonic() - start

    def run_baseline(self, module: Module) -> None:
        code, out, seconds = self._pytest(module.tests, None)
        if code != 0:
            tail = "\n".join(out.splitlines()[-15:])
            raise SystemExit(f"{module.name}: its tests fail before any mutation — fix them first:\n{tail}")
        self.baseline[module.name] = seconds

    def run(self, module: Module, mutant: Mutant, tests: tuple[str, ...] | list[str]) -> Outcome:
        path = self.dir / mutant.file
        # the copy's own text, as copied: the checkout may change while the run goes on
        original = self.pristine.setdefault(mutant.file, path.read_text())
        outcome = Outcome(module.name, mutant.id, mutant.line(original), "", why=mutant.why)
        try:
            path.write_text(mutant.apply(original))
            limit = max(60.0, self.timeout_factor * self.baseline.get(module.name, 60.0) + 30)
            code, out, outcome.seconds = self._pytest(tests, limit)
        finally:
            path.write_text(original)
        lines = out.splitlines()
        if code is None:
            outcome.status = "timeout"
        elif code == 0:
            outcome.status = "survived"
        elif code in (1, 2):
            outcome.status = "killed"
            found = _FAILED.search(out)
            outcome.killed_by = found.group(1) if found else "(collection error)"
        else:
            outcome.status = "error"
            outcome.output_tail = lines[-10:]
        return outcome


def _select(modules: list[Module], names: list[str], only: list[str]) -> list[Module]:
    known = {m.name for m in modules}
    unknown = sorted(set(names) - known)
    if unknown:
        raise SystemExit(
            f"unknown module(s) {', '.join(unknown)}; the catalog has {', '.join(sorted(known))}"
        )
    chosen = [m for m in modules if not names or m.name in names]
    if only:
        chosen = [
            Module(m.name, m.file, m.tests, tuple(x for x in m.mutants if x.id in only)) for m in chosen
        ]
        chosen = [m for m in chosen if m.mutants]
        if not chosen:
            raise SystemExit(f"no mutant named {', '.join(only)}")
    return chosen


def listing(modules: list[Module], root: Path = ROOT) -> list[str]:
    """The catalog as ``--list`` prints it: each mutant's line is in its own ``file``, named when it
    is not the module's."""
    sources: dict[str, str] = {}
    out = []
    for m in modules:
        out.append(f"{m.name}  ({m.file}; tests: {' '.join(m.tests)})")
        for x in m.mutants:
            if x.file not in sources:
                sources[x.file] = (root / x.file).read_text()
            where = f"line {x.line(sources[x.file]):>4}"
            if x.file != m.file:
                where += f" of {x.file}"
            eq = f"  [equivalent: {x.equivalent}]" if x.equivalent else ""
            out.append(f"  {x.id:<40} {where}  {x.why}{eq}")
    return out


def score(outcomes: list[Outcome]) -> tuple[int, int, int, float]:
    counted = [o for o in outcomes if o.status != "equivalent"]
    killed = sum(o.status in ("killed", "timeout") for o in counted)
    equivalent = len(outcomes) - len(counted)
    return len(counted), killed, equivalent, (100.0 * killed / len(counted)) if counted else 100.0


def table(modules: list[Module], outcomes: list[Outcome]) -> str:
    rows = [("module", "file", "mutants", "equivalent", "killed", "survived", "score")]
    total: list[Outcome] = []
    for m in modules:
        mine = [o for o in outcomes if o.module == m.name]
        total += mine
        counted, killed, equivalent, pct = score(mine)
        rows.append(
            (
                m.name,
                m.file,
                str(len(mine)),
                str(equivalent),
                str(killed),
                str(counted - killed),
                f"{pct:.0f}%",
            )
        )
    counted, killed, equivalent, pct = score(total)
    rows.append(
        ("all", "", str(len(total)), str(equivalent), str(killed), str(counted - killed), f"{pct:.0f}%")
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = zip(r, widths, strict=True)
        out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(cells)))
        if n == 0 or n == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Mutation testing of Nudge's core decision modules (hand-written mutants).",
        epilog="example: python tests/mutation/mutate.py --module guards --workers 2 --confirm",
    )
    parser.add_argument(
        "--module", action="append", default=[], help="a catalog name (repeatable); default all"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="run only the mutant with this id (repeatable)"
    )
    parser.add_argument("--workers", type=int, default=2, help="parallel copies of the tree (default 2)")
    parser.add_argument("--confirm", action="store_true", help="rerun survivors against the whole suite")
    parser.add_argument("--list", action="store_true", help="print the catalog and exit")
    parser.add_argument(
        "--tests-from", metavar="REV", help="score the tests as they were at git revision REV"
    )
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument(
        "--min-score", type=float, default=MIN_SCORE, help="exit 1 if a module scores below (default 90)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print the output tail of errors")
    args = parser.parse_args(argv)

    modules = _select(load_catalog(), args.module, args.only)
    if args.list:
        print("\n".join(listing(modules)))
        return 0

    for m in modules:  # fail fast on a stale catalog, before any copying
        for x in m.mutants:
            x.apply((ROOT / x.file).read_text())

    jobs: queue.Queue[tuple[Module, Mutant]] = queue.Queue()
    outcomes: list[Outcome] = []
    for m in modules:
        for x in m.mutants:
            if x.equivalent:
                src = (ROOT / x.file).read_text()
                outcomes.append(
                    Outcome(m.name, x.id, x.line(src), "equivalent", why=x.why, equivalent=x.equivalent)
                )
            else:
                jobs.put((m, x))
    total = jobs.qsize()
    print(
        f"{total} mutants in {len(modules)} module(s), {args.workers} worker(s); copying the tree…",
        flush=True,
    )
    workers = [Worker(i, sys.executable, 3.0, args.tests_from) for i in range(max(1, args.workers))]
    lock = threading.Lock()
    done = [0]
    started = time.monotonic()

    crashed: list[str] = []

    def work(worker: Worker) -> None:
        try:
            drain(worker)
        except BaseException as error:  # a thread's SystemExit would otherwise vanish silently
            with lock:
                crashed.append(str(error) or type(error).__name__)
            while not jobs.empty():  # the other workers stop too: the run is not a measurement
                try:
                    jobs.get_nowait()
                except queue.Empty:
                    break

    def drain(worker: Worker) -> None:
        while True:
            try:
                module, mutant = jobs.get_nowait()
            except queue.Empty:
                return
            with lock:
                need_baseline = module.name not in worker.baseline
            if need_baseline:
                worker.run_baseline(module)
            result = worker.run(module, mutant, module.tests)
            with lock:
                outcomes.append(result)
                done[0] += 1
                mark = {
                    "killed": "killed  ",
                    "timeout": "timeout ",
                    "survived": "SURVIVED",
                    "error": "ERROR   ",
                }[result.status]
                by = f" by {result.killed_by}" if result.killed_by else ""
                elapsed = time.monotonic() - started
                print(
                    f"[{done[0]:>3}/{total}] {elapsed:6.0f}s  {mark} {module.name}/{mutant.id} "
                    f"(line {result.line}, {result.seconds:.1f}s){by}",
                    flush=True,
                )
                if result.status == "error" and args.verbose:
                    print("\n".join("      " + t for t in result.output_tail), flush=True)

    try:
        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if crashed:
            print("\nthe run stopped:\n" + "\n".join(crashed), file=sys.stderr)
            return 2
        survivors = [o for o in outcomes if o.status == "survived"]
        if args.confirm and survivors:
            print(f"confirming {len(survivors)} survivor(s) against the whole suite…", flush=True)
            by_id = {(m.name, x.id): (m, x) for m in modules for x in m.mutants}
            for o in survivors:
                module, mutant = by_id[(o.module, o.id)]
                again = workers[0].run(module, mutant, ["tests"])
                o.confirmed = again.status == "survived"
                if not o.confirmed:
                    o.status, o.killed_by = again.status, again.killed_by
                verdict = "survives the whole suite" if o.confirmed else f"killed by {o.killed_by}"
                print(f"  {o.module}/{o.id}: {verdict}", flush=True)
    finally:
        for w in workers:
            w.close()

    order = {(m.name, x.id): i for m in modules for i, x in enumerate(m.mutants)}
    outcomes.sort(key=lambda o: (o.module, order[(o.module, o.id)]))
    print()
    print(table(modules, outcomes))
    survivors = [o for o in outcomes if o.status in ("survived", "error")]
    if survivors:
        print("\nsurvivors (a behaviour no test pins):")
        for o in survivors:
            print(
                f"  {o.module}/{o.id} (line {o.line}): {o.why}" + (" [error]" if o.status == "error" else "")
            )
    equivalents = [o for o in outcomes if o.status == "equivalent"]
    if equivalents:
        print("\nequivalent (left out of the score):")
        for o in equivalents:
            print(f"  {o.module}/{o.id}: {o.equivalent}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    low = [m.name for m in modules if score([o for o in outcomes if o.module == m.name])[3] < args.min_score]
    if low and not args.only:
        print(f"\nbelow {args.min_score:.0f}%: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
