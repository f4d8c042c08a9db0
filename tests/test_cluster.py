"""Cluster execution: SLURM variables, executor settings, the sbatch files submitit writes, and a
two-shard study through submitit's local executor (real subprocesses) equal to one local run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from samis.errors import ConfigError
from samis.experiments import load_definition, reproduce
from samis.experiments.cluster import ExecutorSpec, parse_sbatch_options, shard_from_environment, submit

from tests.test_reproduce import make_study


def test_shard_auto_reads_the_array_task():
    assert shard_from_environment({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}) == (2, 4)
    # an array written --array=1-4 starts at 1
    env = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"}
    assert shard_from_environment(env) == (0, 4)
    with pytest.raises(ConfigError, match="not set; run it inside a SLURM job array"):
        shard_from_environment({})
    with pytest.raises(ConfigError, match="outside a 2-task array"):
        shard_from_environment({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "2"})


def test_executor_settings_from_definition_and_flags(tmp_path):
    path = make_study(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["executor"] = {"kind": "slurm", "shards": 8, "gpus_per_task": 1, "partition": "gpu",
                        "sbatch": {"account": "abc"}}
    path.write_text(yaml.safe_dump(data))
    spec = load_definition(path).executor
    assert (spec.kind, spec.shards, spec.gpus_per_task, spec.partition) == ("slurm", 8, 1, "gpu")
    flags = spec.override(shards=2, sbatch=parse_sbatch_options(["qos=high", "--exclusive"]))
    assert flags.shards == 2 and dict(flags.sbatch) == {"account": "abc", "qos": "high", "exclusive": ""}
    with pytest.raises(ConfigError, match="executor shards=0: expected a positive integer"):
        spec.override(shards=0)

    data["executor"] = {"kind": "pbs"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"executor\.kind: expected one of local, slurm, submitit-local"):
        load_definition(path)
    data["executor"] = {"shard": 2}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="unknown key 'shard'"):
        load_definition(path)


def _fake_sbatch(folder: Path) -> Path:
    """A stand-in for SLURM's sbatch and srun (none exists here): records each script and answers as sbatch does."""
    folder.mkdir()
    script = folder / "sbatch"
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(ls {folder}/*.sh 2>/dev/null | wc -l)\n'
        f'cp "$1" {folder}/job$n.sh\n'
        'echo "Submitted batch job $((4242 + n))"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    srun = folder / "srun"  # submitit only checks that srun exists; the job scripts call it on the cluster
    srun.write_text("#!/bin/sh\nexit 1\n")
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    return folder


def test_slurm_submission_writes_an_array_and_a_dependent_job(tmp_path, monkeypatch):
    fake = _fake_sbatch(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    d = load_definition(make_study(tmp_path))
    spec = ExecutorSpec(kind="slurm", shards=3, gpus_per_task=1, partition="gpu", time_min=90,
                        array_parallelism=2, sbatch=(("account", "abc"),))
    sub = submit(d, spec, echo=lambda *_: None)
    assert (sub.array_id, sub.final_id) == ("4242", "4243")
    array, final = (fake / "job0.sh").read_text(), (fake / "job1.sh").read_text()
    for line in ("#SBATCH --array=0-2%2", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --time=90", "#SBATCH --account=abc"):
        assert line in array, line
    assert "#SBATCH --dependency=afterok:4242" in final and "#SBATCH --account=abc" in final
    assert "--array" not in final and "--gpus-per-node" not in final
    assert sub.logs == d.output / "slurm"
    text = "\n".join(sub.follow_lines())
    assert "squeue -j 4242,4243" in text and str(d.output / "slurm") in text


@pytest.mark.model
@pytest.mark.slow
def test_two_submitit_shards_and_the_report_job_equal_one_local_run(tmp_path):
    modes = [{"mode": "box"}, {"mode": "point", "n_points": 3, "n_negative": 1}]
    whole = load_definition(make_study(tmp_path, modes=modes, predictions="whole"))
    jobs = load_definition(make_study(tmp_path, modes=modes, predictions="jobs"))
    reproduce(whole, progress=False, echo=lambda *_: None, jobs=1)
    sub = submit(jobs, ExecutorSpec(kind="submitit-local", shards=2), echo=lambda *_: None)
    assert len(sub.shard_jobs) == 2 and sub.final_job.done()

    def files(root: Path, pattern: str) -> dict:
        return {p.relative_to(root): p.read_bytes() for p in root.rglob(pattern)}

    maps_a, maps_b = files(whole.predictions, "*.png"), files(jobs.predictions, "*.png")
    assert len(maps_a) == 2 * 3 and maps_a == maps_b
    for pattern in ("*.csv", "*.md", "*.tex"):
        a = files(whole.output / "results", pattern) | files(whole.output / "tables", pattern)
        b = files(jobs.output / "results", pattern) | files(jobs.output / "tables", pattern)
        assert a and a == b, pattern
    logs = list((jobs.output / "slurm").glob("*_log.out"))
    assert len(logs) == 3  # two shards and the report job


@pytest.mark.model
def test_a_failed_shard_is_one_error_naming_its_log(tmp_path):
    from samis.errors import SamisError

    d = load_definition(make_study(tmp_path))
    image = next((tmp_path / "data" / "images").rglob("In_1.*"))
    image.write_bytes(b"not an image")
    with pytest.raises(SamisError, match=r"job \S+ failed .*its log is .*slurm/\S+_log\.err.*run the same command again"):
        submit(d, ExecutorSpec(kind="submitit-local", shards=1), echo=lambda *_: None)
