"""Interrupted runs, repeated runs and sharded runs of one study, with the real vit_t on generated rail images.

One small study (3 NRSD-MN-layout images made by ``make_nrsd_fixture``, box / seeded random points /
automatic 4x4 grid, sod and steel tables) is reproduced with ``samis reproduce`` in subprocesses, as
a user runs it:

- A: one uninterrupted run: the reference;
- B: a run killed with SIGKILL as soon as its first maps appear, then resumed (a half-written temporary
  map planted beside the others, as a kill during a write leaves one);
- C: a second full run with its own empty embedding cache: the same definition twice;
- D: shard 0/2 and shard 1/2 into one tree, then evaluation and tables: shards merged.

Maps, results CSVs and tables of B, C and D must be byte-identical to A's. Timing files, the README
(it shows timings), manifests (creation time) and run logs are the only files allowed to differ.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samis.datasets.nrsd_fixture import make_nrsd_fixture

from .conftest import AWKWARD, REPO, assert_clean_error, assert_ok, samis_cli

pytestmark = [pytest.mark.model, pytest.mark.slow]

DEFINITION = """\
name: rel-run
seed: 7
output: out
predictions: preds
datasets:
  - {{name: nrsd, splits: [full], label: rail, data_root: "{data}", protocols: [sod, steel]}}
models:
  - {{name: vit_t, device: cpu}}
modes:
  - {{mode: box}}
  - {{mode: point, n_points: 2, n_negative: 1}}
  - {{mode: automatic, points_per_side: 4, policies: [union]}}
tables:
  - {{kind: main, name: main-sod, protocol: sod}}
  - {{kind: main, name: main-steel, protocol: steel}}
"""
METHODS = ("SAM-vit_t-box", "SAM-vit_t-point2-neg1-seed7", "SAM-vit_t-auto-union-pps4")
STEMS = ("craft_0001", "craft_0002", "real_0001")
TIMEOUT = 900


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("runs") / AWKWARD
    make_nrsd_fixture(base / "data" / "NRSD-MN", n_craft=2, n_real=1, size=(128, 160))
    return base


class Study:
    """One copy of the study: its definition, output trees, and a private cache sharing the installed weights."""

    def __init__(self, base: Path, name: str, weights: Path, cache: Path | None = None, definition: str = DEFINITION):
        self.dir = base / name
        self.dir.mkdir()
        self.exp = self.dir / "exp.yaml"
        self.exp.write_text(definition.format(data=base / "data"), encoding="utf-8")
        self.cache = cache or self.dir / "cache"
        if cache is None:
            self.cache.mkdir()
            (self.cache / "weights").symlink_to(weights, target_is_directory=True)
        self.env = {"SAMIS_CACHE_DIR": str(self.cache), "OMP_NUM_THREADS": "2"}

    @property
    def preds(self) -> Path:
        return self.dir / "preds" / "rail"

    def cli(self, *args: str):
        return samis_cli("reproduce", self.exp, "--quiet", *args, env=self.env, timeout=TIMEOUT)

    def run(self, *args: str) -> tuple[int, str]:
        """``samis reproduce`` in this process (the model stays loaded between calls): (exit code, output).

        The subprocess runs (A, B, F) show the command as a user types it; the in-process ones save a
        torch import and a model load per call. An exception escaping ``main`` fails the test.
        """
        return main_in_process(["reproduce", str(self.exp), "--quiet", *args], self.env)

    def run_ok(self, *args: str) -> str:
        code, text = self.run(*args)
        assert code == 0 and "Traceback" not in text, f"exit code {code}:\n{text}"
        return text

    def popen(self, log: Path) -> subprocess.Popen:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env.pop("SAMIS_DATA_ROOT", None)
        with open(log, "wb") as fh:
            return subprocess.Popen([sys.executable, "-m", "samis", "reproduce", str(self.exp), "--quiet"],
                                    cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)

    def maps(self) -> list[Path]:
        return sorted(self.preds.glob("*/*.png")) if self.preds.is_dir() else []

    def snapshot(self) -> dict[str, bytes]:
        """Every map, results file (CSV, curves NPZ) and table, by path relative to the study: what must not differ."""
        results = self.dir / "out" / "results"
        files = [*self.maps(), *results.rglob("*.csv"), *results.rglob("*.npz"), *(self.dir / "out" / "tables").glob("*.*")]
        return {str(p.relative_to(self.dir)): p.read_bytes() for p in sorted(files) if not p.name.startswith(".")}

    def curves(self) -> dict[str, np.ndarray]:
        (path,) = (self.dir / "out" / "results").rglob("*.curves.npz")
        with np.load(path) as z:
            return {k: z[k] for k in z.files}


def main_in_process(argv: list[str], env: dict) -> tuple[int, str]:
    """``samis.cli.main(argv)`` here, with ``env`` set: (exit code, stdout + stderr); a traceback fails the test."""
    import contextlib
    import io
    import traceback

    from samis.cli import main

    buf = io.StringIO()
    code = 0
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("SAMIS_DATA_ROOT", raising=False)
        try:
            main(argv)
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code
        except BaseException as exc:
            pytest.fail(f"traceback instead of a clear error: {exc!r}\n{traceback.format_exc()}\n{buf.getvalue()}")
    return code, buf.getvalue()


def _assert_same(a: dict[str, bytes], b: dict[str, bytes], what: str) -> None:
    assert sorted(a) == sorted(b), f"{what}: different files\n{sorted(set(a) ^ set(b))}"
    differ = [k for k in a if a[k] != b[k]]
    detail = ""
    for k in differ:  # the first differing line of the first differing text file, to see what changed
        if k.endswith((".csv", ".md", ".tex")):
            pairs = zip(a[k].decode().splitlines(), b[k].decode().splitlines())
            first = next(((x, y) for x, y in pairs if x != y), None)
            if first:
                detail = f"\n{k}:\n  {first[0]}\n  {first[1]}"
                break
    assert not differ, f"{what}: {len(differ)} files differ: {differ[:10]}{detail}"


def _decodes(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def run_a(base, installed_weights) -> Study:
    study = Study(base, "A uninterrupted", installed_weights)
    assert_ok(study.cli())
    return study


def test_reference_run_is_complete(run_a):
    snap = run_a.snapshot()
    assert sorted(p.parent.name for p in run_a.maps()) == sorted(m for m in METHODS for _ in STEMS)
    assert {p.stem for p in run_a.maps()} == set(STEMS)
    assert all(_decodes(p) for p in run_a.maps())
    assert {"out/tables/main-sod.md", "out/tables/main-steel.csv"} <= set(snap)
    assert not list(run_a.dir.rglob("*.part"))


@pytest.fixture(scope="module")
def run_b(base, installed_weights, run_a):
    """Killed with SIGKILL as soon as its first map appears; the state at the kill; then resumed."""
    study = Study(base, "B killed", installed_weights)
    proc = study.popen(study.dir / "killed.log")
    deadline = time.monotonic() + TIMEOUT
    try:
        while not study.maps():
            if proc.poll() is not None:
                pytest.fail(f"the run ended (exit {proc.returncode}) before any map appeared:\n"
                            f"{(study.dir / 'killed.log').read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail("no map appeared in time")
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    at_kill = {p: p.read_bytes() for p in study.maps()}
    parts = sorted(study.dir.rglob("*.part"))
    # a kill in the middle of a write leaves a hidden temporary beside the maps; plant one for a map not done
    box = study.preds / METHODS[0]
    box.mkdir(parents=True, exist_ok=True)
    not_done = next((s for s in STEMS[::-1] if not (box / f"{s}.png").exists()), None)
    planted = None
    if not_done is not None:
        planted = box / f".{not_done}.png.k1ll3d.part"
        planted.write_bytes((run_a.preds / METHODS[0] / f"{not_done}.png").read_bytes()[:57])
    resumed = study.cli()
    return study, at_kill, parts, planted, resumed


def test_killed_run_left_only_complete_maps(run_a, run_b):
    study, at_kill, parts, _, _ = run_b
    assert at_kill, "the kill came after the first map"
    for path, data in at_kill.items():
        ref = run_a.dir / path.relative_to(study.dir)
        assert data == ref.read_bytes(), f"{path} at the kill differs from the uninterrupted run's map"
    print(f"at the kill: {len(at_kill)} of {len(METHODS) * len(STEMS)} maps, temporaries left: {[p.name for p in parts]}")
    for part in parts:
        assert part.name.startswith("."), f"a temporary that a reader could take for a map: {part}"


def test_resumed_run_equals_uninterrupted_run(run_a, run_b):
    study, at_kill, _, planted, resumed = run_b
    assert_ok(resumed)
    _assert_same(run_a.snapshot(), study.snapshot(), "killed + resumed vs uninterrupted")
    for path, data in at_kill.items():  # maps finished before the kill were kept, not rewritten
        assert path.read_bytes() == data
    assert all(_decodes(p) for p in study.maps())
    for a, b in zip(run_a.curves().items(), study.curves().items()):
        assert a[0] == b[0] and np.array_equal(a[1], b[1])
    if planted is not None:  # the planted partial file was never taken for a map
        assert (planted.parent / planted.name.split(".")[1]).with_suffix(".png").exists()


@pytest.fixture(scope="module")
def run_c(base, installed_weights, run_a) -> Study:
    study = Study(base, "C second run", installed_weights)  # its own empty embedding cache: everything recomputed
    study.run_ok()
    return study


def test_two_full_runs_give_identical_maps_and_tables(run_a, run_c):
    _assert_same(run_a.snapshot(), run_c.snapshot(), "second full run vs first")
    ca, cc = run_a.curves(), run_c.curves()
    assert sorted(ca) == sorted(cc) and all(np.array_equal(ca[k], cc[k]) for k in ca)


def test_rerun_of_a_finished_study_changes_nothing(run_c):
    before = run_c.snapshot()
    mtimes = {p: p.stat().st_mtime_ns for p in run_c.maps()}
    out = run_c.run_ok()
    assert "up to date" in out or "skipped" in out
    _assert_same(before, run_c.snapshot(), "rerun of a finished study")
    assert {p: p.stat().st_mtime_ns for p in run_c.maps()} == mtimes  # not even rewritten


def test_two_shards_merged_equal_one_run(base, installed_weights, run_a, run_c):
    # shares C's cache: the shards test the split and the merge, C already tested the encoder twice
    study = Study(base, "D shards", installed_weights, cache=run_c.cache)
    study.run_ok("--shard", "0/2")
    first = {p.stem for p in study.maps()}
    assert first and first != set(STEMS)  # shard 0 did a share, not everything
    study.run_ok("--shard", "1/2")
    assert {p.stem for p in study.maps()} == set(STEMS)
    assert not (study.dir / "out" / "tables").exists() or not any((study.dir / "out" / "tables").glob("*.md"))
    study.run_ok()  # evaluation and tables over the merged maps
    _assert_same(run_a.snapshot(), study.snapshot(), "two shards merged vs one run")


def test_truncated_map_with_its_final_name_is_a_clear_error(base, installed_weights, run_c):
    """A map damaged after the fact (a bad copy): evaluation names it and says what to do."""
    import shutil

    study = Study(base, "E damaged map", installed_weights, cache=run_c.cache)
    shutil.copytree(run_c.preds, study.preds)
    bad = study.preds / METHODS[0] / f"{STEMS[1]}.png"
    bad.write_bytes(bad.read_bytes()[:100])
    proc = study.cli("--only", "evaluate")
    assert_clean_error(proc, str(bad), fix=("re-export", "remove", "delete"))


def test_sigint_stops_cleanly_and_resumes(base, installed_weights, run_a):
    """Ctrl-C in the middle of writing maps: a one-line message, exit 130, maps kept, a rerun completes them.

    The study has its own empty embedding cache, so after the first map the run still has two images to
    encode (seconds of work): the interrupt always lands mid-run. With C's cached embeddings the whole run
    took less time than the poll and the signal, and the check could not happen.
    """
    study = Study(base, "F interrupted", installed_weights)
    log = study.dir / "interrupted.log"
    proc = study.popen(log)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not study.maps() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert proc.returncode != 0, f"the run finished before the interrupt arrived:\n{text}"
    assert 0 < len(study.maps()) < 3 * len(STEMS), "the interrupt must land between the first and the last map"
    assert "Traceback" not in text, text
    assert proc.returncode == 130, text
    assert ("interrupted" in text or "aborted" in text) and "rerun" in text
    assert all(_decodes(p) for p in study.maps())
    study.run_ok()
    _assert_same(run_a.snapshot(), study.snapshot(), "interrupted + resumed vs uninterrupted")


NAMED = DEFINITION.replace("  - {{mode: box}}\n", "  - {{mode: box, name: my-box{jitter}}}\n").replace(
    "  - {{mode: point, n_points: 2, n_negative: 1}}\n  - {{mode: automatic, points_per_side: 4, policies: [union]}}\n", "")


def test_changed_mode_under_the_same_name_is_not_silently_reused(base, installed_weights, run_c):
    """A mode with an explicit name whose options change: its old maps must not be reported as the new mode's."""
    study = Study(base, "G renamed", installed_weights, cache=run_c.cache, definition=NAMED.replace("{jitter}", ""))
    study.run_ok()
    old = {p.name: p.read_bytes() for p in (study.preds / "my-box").glob("*.png")}
    table = (study.dir / "out" / "tables" / "main-sod.csv").read_bytes()
    assert len(old) == len(STEMS)
    study.exp.write_text(NAMED.replace("{jitter}", ", jitter: 0.3").format(data=base / "data"), encoding="utf-8")
    code, text = study.run()
    if code != 0:  # refused: it must say which folder and how to get out
        lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
        assert code == 2 and len(lines) == 1 and str(study.preds / "my-box") in lines[0], text
        assert any(w in lines[0] for w in ("name", "overwrite", "delete", "remove")), text
        return
    new = {p.name: p.read_bytes() for p in (study.preds / "my-box").glob("*.png")}
    assert new != old or (study.dir / "out" / "tables" / "main-sod.csv").read_bytes() != table, (
        "the box maps of jitter 0 were kept and reported as those of jitter 0.3"
    )


# --- `samis run`: the runner's own command line ------------------------------------------------------------

RUN_ARGS = ("--dataset", "nrsd", "--mode", "box", "--mode", "point", "--mode", "automatic",
            "--set", "point.n_points=2", "--set", "point.n_negative=1", "--set", "automatic.points_per_side=4",
            "--set", "policy=union", "--set", "seed=7", "--device", "cpu", "--no-progress")


def _run_maps(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*.png"))}


def test_samis_run_killed_and_resumed_equals_reproduce(base, installed_weights, run_a, run_c):
    """SIGKILL `samis run` after its first map, resume it: the maps equal the uninterrupted study's (A)."""
    out = base / "R samis run" / "maps ü"
    env = {"SAMIS_CACHE_DIR": str(run_c.cache), "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "samis", "run", *RUN_ARGS, "--data-root", str(base / "data"), "--out", str(out)]
    out.parent.mkdir()
    full_env = {**os.environ, **env}
    full_env.pop("SAMIS_DATA_ROOT", None)
    with open(out.parent / "killed.log", "wb") as log:
        proc = subprocess.Popen(args, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not list(out.glob("*/*.png")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()
    finally:
        proc.wait()
    at_kill = _run_maps(out)
    assert proc.returncode == -signal.SIGKILL, (out.parent / "killed.log").read_text(errors="replace")
    assert 0 < len(at_kill) < len(METHODS) * len(STEMS), f"{len(at_kill)} maps at the kill"
    code, text = main_in_process(["run", *RUN_ARGS, "--data-root", str(base / "data"), "--out", str(out)], env)
    assert code == 0, text
    assert "skipped as done" in text
    final = _run_maps(out)
    for k, v in at_kill.items():
        assert final[k] == v
    reference = _run_maps(run_a.preds)
    assert sorted(final) == sorted(reference)
    assert [k for k in final if final[k] != reference[k]] == []  # `samis run` = `samis reproduce`, to the byte
    assert all(_decodes(p) for p in out.glob("*/*.png"))


def test_samis_run_stops_at_a_broken_image_and_keeps_earlier_maps(base, run_c):
    import shutil

    data = base / "S broken data"
    shutil.copytree(base / "data", data)
    bad = data / "NRSD-MN" / "real" / "images" / "real_0001.png"  # the last image in sample order
    bad.write_bytes(bad.read_bytes()[:300])
    out = base / "S broken out"
    code, text = main_in_process(["run", "--dataset", "nrsd", "--mode", "box", "--device", "cpu", "--no-progress",
                                  "--data-root", str(data), "--out", str(out)], {"SAMIS_CACHE_DIR": str(run_c.cache)})
    lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and str(bad) in lines[0], text
    done = sorted(p.stem for p in out.glob("*/*.png"))
    assert done == ["craft_0001", "craft_0002"], done  # finished work kept, each map complete
    assert all(_decodes(p) for p in out.glob("*/*.png"))


def test_samis_run_refuses_maps_of_another_configuration(base, run_c):
    out = base / "T guard"
    env = {"SAMIS_CACHE_DIR": str(run_c.cache)}
    common = ["run", "--dataset", "nrsd", "--mode", "box", "--device", "cpu", "--no-progress",
              "--data-root", str(base / "data"), "--out", str(out), "--set", "name=my-box"]
    code, text = main_in_process(common, env)
    assert code == 0, text
    first = _run_maps(out)
    code, text = main_in_process([*common, "--set", "jitter=0.3"], env)
    lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and str(out / "my-box") in lines[0] and "--overwrite" in lines[0], text
    assert _run_maps(out) == first  # refused before touching anything
    code, text = main_in_process([*common, "--set", "jitter=0.3", "--overwrite"], env)
    assert code == 0, text
    assert _run_maps(out) != first  # recomputed with the new configuration


@pytest.mark.parametrize("case", ["missing_checkpoint", "unknown_model", "cuda_without_cuda", "bad_shard", "bad_set"])
def test_samis_run_bad_options(base, run_c, tmp_path, case):
    import torch

    extra, needles = {
        "missing_checkpoint": (["--model", "vit_b", "--checkpoint", str(tmp_path / "nö.pth")], [str(tmp_path / "nö.pth"), "download"]),
        "unknown_model": (["--model", "vit_x"], ["vit_x", "vit_t"]),
        "cuda_without_cuda": (["--device", "cuda"], ["cuda", "--device cpu"]),
        "bad_shard": (["--shard", "2/2"], ["2/2"]),
        "bad_set": (["--set", "jiter=0.1"], ["jiter"]),
    }[case]
    if case == "cuda_without_cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "out"
    device = [] if case == "cuda_without_cuda" else ["--device", "cpu"]
    code, text = main_in_process(["run", "--dataset", "nrsd", "--mode", "box", "--no-progress", *device,
                                  "--data-root", str(base / "data"), "--out", str(out), *extra],
                                 {"SAMIS_CACHE_DIR": str(run_c.cache)})
    lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1, text
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not list(out.glob("*/*.png"))
