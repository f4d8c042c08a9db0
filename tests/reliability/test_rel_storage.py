"""A full disk, a read-only output folder and an output path that cannot exist, under `samis reproduce`.

The study evaluates copies of real stored baselines (RCRR, MCITF) on four real SD-saliency-900
images; it needs no model. Its outputs go to a place where writing fails:

- a tiny tmpfs (``mount -t tmpfs -o size=...``) filled up: ENOSPC, a real full disk;
- the same tmpfs remounted read-only: EROFS (tests run as root, where ``chmod 0o555`` stops nothing);
- an output folder whose parent is a regular file: ENOTDIR;
- ENOSPC raised by a monkeypatched ``os.fsync`` in-process (the fallback where mounting is not allowed).

Each must end in one ``error:`` line naming the file and what to do, exit code 2, and every file
written before must still be there, byte for byte; no temporary is left behind.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import assert_clean_error, assert_ok, baseline_copy, copy_sd900, samis_cli

FIX = ("space", "free", "writable", "read-only", "permission", "another", "output")

DEFINITION = """\
name: rel-storage
output: "{output}"
predictions: "{base}/preds"
datasets:
  - {{name: sd900, splits: [full], label: steel, data_root: "{data}", protocols: [steel]}}
models:
  - {{name: vit_t, device: cpu}}
modes:
  - {{mode: box}}
baselines:
  steel:
    root: "{base}/baselines"
    methods: [RCRR, MCITF]
tables:
  - {{kind: main, name: main-steel, protocol: steel, formats: [md, csv]}}
"""


@pytest.fixture
def study(datasets_root, sd900_baselines, awkward_root):
    data = awkward_root / "data"
    copy_sd900(datasets_root, data)
    baseline_copy(sd900_baselines, awkward_root / "baselines", ("RCRR", "MCITF"))

    def write(output: Path) -> Path:
        exp = awkward_root / f"exp-{abs(hash(str(output))) % 10**8}.yaml"
        exp.write_text(DEFINITION.format(output=output, base=awkward_root, data=data), encoding="utf-8")
        return exp

    write.base = awkward_root
    return write


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _steps(exp: Path, *only: str):
    return [samis_cli("reproduce", exp, "--quiet", "--jobs", "1", *(("--only", o) if o else ()))
            for o in (only or ("",))]


def _make_stale(base: Path) -> None:
    """Change one stored map, so the results file has to be written again."""
    path = base / "baselines" / "RCRR" / "In_2.png"
    import numpy as np
    from PIL import Image

    arr = np.asarray(Image.open(path)).copy()
    arr[:10, :10] = 255 - arr[:10, :10]
    Image.fromarray(arr).save(path)


@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MiB tmpfs mounted for this test (unmounted after); skips where mounting is not allowed."""
    mnt = tmp_path / "small disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); test_enospc_in_process covers ENOSPC")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(mnt: Path) -> None:
    with open(mnt / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    os.sync()


def test_disk_full_keeps_old_results_and_says_so(study, tmpfs):
    exp = study(tmpfs / "out")
    assert_ok(_steps(exp, "evaluate")[0])
    assert_ok(_steps(exp, "tables")[0])
    before = _files(tmpfs / "out")
    assert any(k.endswith("main-steel.md") for k in before)
    _make_stale(study.base)
    _fill(tmpfs)
    proc = _steps(exp, "evaluate")[0]
    assert _files(tmpfs / "out") == before  # nothing written before was lost or truncated
    assert not [p for p in tmpfs.rglob("*.part")]
    assert_clean_error(proc, str(tmpfs / "out"), fix=FIX)
    assert "space" in proc.stderr.lower()
    (tmpfs / "filler").unlink()
    assert_ok(_steps(exp, "evaluate")[0])  # with space again, the same command finishes
    after = _files(tmpfs / "out")
    changed = [k for k in before if k in after and before[k] != after[k]]
    assert any(k.endswith("results/steel/full/baselines.csv") for k in changed), changed


def test_read_only_output_keeps_old_results_and_says_so(study, tmpfs):
    exp = study(tmpfs / "out")
    assert_ok(_steps(exp, "evaluate")[0])
    before = _files(tmpfs / "out")
    _make_stale(study.base)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with pytest.raises(OSError):
        (tmpfs / "out" / "probe").write_text("x")  # really read-only, even for root
    proc = _steps(exp, "evaluate")[0]
    assert _files(tmpfs / "out") == before
    assert_clean_error(proc, str(tmpfs / "out"), fix=FIX)


def test_output_under_a_regular_file(study):
    blocker = study.base / "results.txt"
    blocker.write_text("a file where the output folder's parent should be\n")
    exp = study(blocker / "out")
    proc = _steps(exp, "evaluate")[0]
    assert_clean_error(proc, str(blocker), fix=FIX)
    assert blocker.read_text().startswith("a file where")


def _main(args):
    """``samis.cli.main`` in-process: its exit code, or the exception that escaped it (a user sees a traceback)."""
    from samis.cli import main

    try:
        main(args)
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code
    except Exception as exc:  # noqa: BLE001 - returned, checked by the caller after the files
        return exc
    return 0


def test_enospc_in_process(study, tmp_path, monkeypatch, capsys):
    """ENOSPC on every fsync (how atomic writes end), simulated in-process: works wherever tests run."""
    out = tmp_path / "out"
    exp = study(out)
    args = ["reproduce", str(exp), "--quiet", "--jobs", "1", "--only", "evaluate"]
    assert _main(args) == 0
    before = _files(out)
    _make_stale(study.base)
    capsys.readouterr()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code = _main(args)
    err = capsys.readouterr().err
    assert _files(out) == before  # first: nothing written before was lost
    assert not list(out.rglob("*.part"))
    assert not isinstance(code, Exception), f"traceback instead of a clear error: {type(code).__name__}: {code}"
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and str(out) in lines[0] and "space" in lines[0].lower(), err


@pytest.mark.parametrize("mode", ["full", "read-only"])
def test_evaluate_out_on_full_or_read_only_disk(study, tmpfs, mode):
    """`samis evaluate --out` over an earlier result on a disk that is full or read-only: old files intact."""
    data, preds = study.base / "data", study.base / "baselines"
    out = tmpfs / "res.csv"
    args = ("evaluate", "--dataset", "sd900", "--data-root", data, "--predictions", preds, "--protocol", "sod",
            "--out", out, "--no-progress", "--jobs", "1")
    assert_ok(samis_cli(*args))
    before = _files(tmpfs)
    assert set(before) == {"res.csv", "res.per_image.csv", "res.curves.npz", "res.image_curves.npz"}
    _make_stale(study.base)
    if mode == "full":
        _fill(tmpfs)
        before = _files(tmpfs)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    proc = samis_cli(*args)
    assert _files(tmpfs) == before
    assert not [p for p in tmpfs.rglob("*.part")]
    assert_clean_error(proc, str(tmpfs), fix=FIX)
