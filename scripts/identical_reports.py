"""Do the working tree and a base revision write the same results files and tables, byte for byte?

A refactoring of the evaluator, the protocols or the report must not move a single number. This runs
both codes on the same inputs and compares what they write:

- ``samis evaluate`` of the stored SD-saliency-900 baselines on the test and full splits,
  ``--protocol both`` (summary and per-image CSVs, curves NPZ);
- ``samis table`` (md, latex, csv; main and per-category) from those results;
- the demo experiment's evaluation, tables and figures. The demo needs SAM maps: the base code runs
  the whole demo once, and the working tree evaluates and renders those same maps (and timings);
- the baseline rows of the committed ``results/default/tables/*.csv``, which the working tree's
  tables must reproduce line for line.

The base code is a temporary ``git worktree`` of the base revision put first on ``PYTHONPATH``; both
sides run with this interpreter. CSV, NPZ, Markdown and LaTeX files must be byte-identical (numpy
writes NPZ members with a fixed date, so equal arrays give equal files). Figures (PDF with
``SOURCE_DATE_EPOCH`` fixed, PNG) are compared too and reported on their own line: they are drawings,
not numbers.

    .venv/bin/python scripts/identical_reports.py [--base 10ad98b] [--shared ../shared] [--jobs 2]

Prints one line per compared group and a verdict; exits 1 when a results file or table differs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BASE = "10ad98b"  # main before the protocol registry
DATA_FILES = (".csv", ".npz", ".md", ".tex")
FIGURE_FILES = (".png", ".pdf")
TABLE_FORMATS = {"md": ".md", "latex": ".tex", "csv": ".csv"}


@contextlib.contextmanager
def base_checkout(rev: str, where: Path):
    """A detached worktree of ``rev`` for the duration of the block, removed afterwards."""
    path = where / "base-src"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(path), rev], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], check=False)


class Side:
    """One code base (``src`` first on PYTHONPATH) writing into its own folder ``out``.

    ``fresh``: start from an empty folder. The base side may keep what an earlier run with ``--keep``
    wrote (the base revision's code does not change); the working tree's side always starts afresh.
    """

    def __init__(self, name: str, src: Path, out: Path, jobs: int, fresh: bool = True):
        self.name, self.src, self.out, self.jobs = name, src, out, jobs
        if fresh and out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, PYTHONPATH=str(src), SOURCE_DATE_EPOCH="0", MPLBACKEND="Agg")
        where = self.python("-c", "import samis; print(samis.__file__)").strip()
        if not Path(where).resolve().is_relative_to(src.resolve()):
            raise SystemExit(f"{name}: samis imported from {where}, not from {src}")

    def python(self, *args: str) -> str:
        done = subprocess.run([sys.executable, *args], env=self.env, cwd=self.out, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{self.name}: {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def samis(self, *args: str) -> str:
        return self.python("-m", "samis", *map(str, args))


def evaluate_baselines(side: Side, shared: Path) -> list[Path]:
    """The stored SD-saliency-900 baselines scored on test and full, both protocols."""
    results = []
    for split in ("test", "full"):
        out = side.out / "baselines" / f"sd900-{split}.csv"
        results.append(out)
        if out.with_name(f"{out.stem}.steel.per_image.csv").is_file():
            continue  # kept from an earlier run (base side only: the working tree's side starts empty)
        side.samis("evaluate", "--dataset", "sd900", "--split", split, "--data-root", shared / "datasets",
                   "--predictions", shared / "baselines" / "SD-saliency-900", "--protocol", "both",
                   "--out", out, "--jobs", side.jobs, "--no-progress")
    return results


def render_tables(side: Side, results: list[Path]) -> None:
    """Main and per-category tables of each protocol in every format, from the baselines' results."""
    folder = side.out / "tables"
    folder.mkdir(exist_ok=True)
    for protocol in ("steel", "sod"):
        summaries = [r.with_name(f"{r.stem}.{protocol}.csv") for r in results]
        for fmt, suffix in TABLE_FORMATS.items():
            side.samis("table", *summaries, "--format", fmt, "--style", protocol,
                       "--out", folder / f"main-{protocol}{suffix}")
            side.samis("table", *summaries, "--by-category", "--format", fmt, "--style", protocol,
                       "--out", folder / f"categories-{protocol}{suffix}")


def demo_definition(folder: Path) -> Path:
    """experiments/demo.yaml with every path under ``folder``."""
    data = yaml.safe_load((REPO / "experiments" / "demo.yaml").read_text())
    data["output"] = str(folder / "out")
    data["predictions"] = str(folder / "predictions")
    data["datasets"][0]["data_root"] = str(folder / "data")
    for baseline in data["baselines"].values():
        baseline["root"] = str(folder / "baselines")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def demo(base: Side, work: Side) -> None:
    """The whole demo with the base code; then the working tree evaluates and renders the same maps."""
    if not (base.out / "demo" / "out" / "README.md").is_file():  # else kept from an earlier run
        base.samis("demo", "--definition", demo_definition(base.out / "demo"), "--quiet")
    mine = work.out / "demo"
    for name in ("data", "predictions", "baselines", "out/timing"):
        shutil.copytree(base.out / "demo" / name, mine / name)
    definition = demo_definition(mine)
    for step in ("evaluate", "tables", "figures"):
        work.samis("reproduce", definition, "--only", step, "--quiet", "--jobs", work.jobs)


def _not_compared(rel: Path) -> bool:
    """The demo's inputs (copied from the base side) and its README (it names each side's folders)."""
    return "data" in rel.parts or "predictions" in rel.parts or rel.parts[:2] == ("demo", "baselines") \
        or rel.name == "README.md"


def compare(base: Path, work: Path, suffixes) -> tuple[int, list[str]]:
    """How many files of the kinds ``suffixes`` under ``base`` were compared, and what differs."""
    problems, count = [], 0
    for a in sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in suffixes):
        rel = a.relative_to(base)
        if _not_compared(rel):
            continue
        count += 1
        b = work / rel
        if not b.is_file():
            problems.append(f"{rel}: missing on the working tree's side")
        elif a.read_bytes() != b.read_bytes():
            problems.append(f"{rel}: differs")
    extra = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file() and p.suffix in suffixes
                   and not _not_compared(p.relative_to(work)) and not (base / p.relative_to(work)).exists())
    problems += [f"{rel}: written only by the working tree" for rel in extra]
    return count, problems


def committed_rows(work: Side, results: list[Path]) -> tuple[int, list[str]]:
    """Every baseline row of the committed default tables must come out of the fresh results unchanged."""
    committed = REPO / "results" / "default" / "tables"
    fresh = work.out / "tables"
    problems, count = [], 0
    for table in ("main-steel", "main-sod", "categories-steel", "categories-sod"):
        old = (committed / f"{table}.csv").read_text().splitlines()
        new = (fresh / f"{table}.csv").read_text().splitlines()
        if old[0] != new[0]:
            problems.append(f"{table}.csv: header {old[0]!r} != {new[0]!r}")
            continue
        new_rows = set(new[1:])
        for line in old[1:]:
            method = next(csv.reader(io.StringIO(line)))[0]
            if method.startswith("SAM-"):
                continue
            count += 1
            if line not in new_rows:
                problems.append(f"{table}.csv: row not reproduced: {line[:80]}...")
    return count, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=BASE, help=f"git revision to compare with (default {BASE})")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared data folder")
    parser.add_argument("--jobs", type=int, default=2, help="evaluation worker processes per run")
    parser.add_argument("--keep", type=Path, default=None, help="write both sides here and keep them")
    args = parser.parse_args(argv)
    shared = args.shared.resolve()
    with contextlib.ExitStack() as stack:
        tmp = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="samis-identical-")))
        tmp.mkdir(parents=True, exist_ok=True)
        src = stack.enter_context(base_checkout(args.base, tmp))
        base = Side("base", src, tmp / "base", args.jobs, fresh=args.keep is None)
        work = Side("work", REPO, tmp / "work", args.jobs)
        for side in (base, work):
            print(f"{side.name}: evaluating the stored baselines ...", flush=True)
            results = evaluate_baselines(side, shared)
            render_tables(side, results)
        print("demo: base code runs it, the working tree re-evaluates its maps ...", flush=True)
        demo(base, work)

        failed = False
        checks = [("results and tables", DATA_FILES, True), ("figures", FIGURE_FILES, False)]
        for what, suffixes, required in checks:
            count, problems = compare(base.out, work.out, suffixes)
            print(f"{what}: {count} files compared, {len(problems)} differ{' (not required)' if not required else ''}")
            for line in problems:
                print(f"  {line}")
            failed |= required and bool(problems)
        count, problems = committed_rows(work, results)
        print(f"committed results/default/tables: {count} baseline rows checked, {len(problems)} not reproduced")
        for line in problems:
            print(f"  {line}")
        failed |= bool(problems)
        print(f"verdict: {'DIFFERENT' if failed else 'IDENTICAL'} (base {args.base} vs the working tree)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
