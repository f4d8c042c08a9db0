"""A study on a cluster: one job array over the SAM shards, then one job that evaluates and renders.

The shards are exactly ``samis reproduce EXP --shard i/n``: maps are written atomically and skipped
when present, so a shard that is preempted, times out or fails and is run again resumes where it
stopped. submitit does the submitting (sbatch scripts, job arrays, requeue on preemption), so samis
writes no scheduler code of its own. The executor settings come from the definition's ``executor:``
section and are overridden by the command line's flags.

Executors: ``local`` (default) runs everything in this process, as without a cluster; ``slurm``
submits to SLURM and returns at once; ``submitit-local`` runs the same jobs as real subprocesses on
this machine through submitit's local executor and waits for them (to try a cluster set-up on a
workstation, and in the tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from samis.errors import ConfigError, SamisError

EXECUTORS = ("local", "slurm", "submitit-local")
#: definition keys of ``executor:`` (the command line's flags have the same names, with dashes)
EXECUTOR_KEYS = ("kind", "shards", "gpus_per_task", "cpus_per_task", "mem_gb", "time_min", "partition",
                 "array_parallelism", "sbatch")


@dataclass(frozen=True)
class ExecutorSpec:
    """Where and how a study runs; ``None`` leaves a setting to the cluster's defaults."""

    kind: str = "local"
    shards: int = 1
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    time_min: int | None = None
    partition: str | None = None
    array_parallelism: int | None = None
    sbatch: tuple[tuple[str, str], ...] = field(default=())  # extra sbatch options, e.g. (("account", "abc"),)

    def override(self, **values: Any) -> ExecutorSpec:
        """This spec with every value that is not ``None`` (or an empty sbatch list) replaced."""
        changes = {k: v for k, v in values.items() if v is not None and not (k == "sbatch" and not v)}
        if "sbatch" in changes:
            changes["sbatch"] = tuple({**dict(self.sbatch), **dict(changes["sbatch"])}.items())
        spec = replace(self, **changes)
        spec.check()
        return spec

    def check(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"executor {self.kind!r}: choose one of {', '.join(EXECUTORS)}")
        for name in ("shards", "gpus_per_task", "cpus_per_task", "time_min", "array_parallelism"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < (0 if name == "gpus_per_task" else 1)):
                raise ConfigError(f"executor {name.replace('_', '-')}={value!r}: expected a positive integer")
        if self.mem_gb is not None and self.mem_gb <= 0:
            raise ConfigError(f"executor mem-gb={self.mem_gb!r}: expected a positive number of GB")


def parse_sbatch_options(items) -> tuple[tuple[str, str], ...]:
    """``["account=abc", "qos=high"]`` -> ``(("account", "abc"), ("qos", "high"))``; a bare flag gets ``""``."""
    out = []
    for item in items or ():
        key, sep, value = str(item).partition("=")
        key = key.strip().lstrip("-")
        if not key:
            raise ConfigError(f"--sbatch {item!r}: write KEY=VALUE, e.g. --sbatch account=myproject")
        out.append((key.replace("-", "_"), value.strip() if sep else ""))
    return tuple(out)


def executor_from_definition(c, value, path=("executor",)) -> ExecutorSpec:
    """The ``executor:`` section of a definition (``c``: its ``Checker``)."""
    if value is None:
        return ExecutorSpec()
    c.mapping(value, path, EXECUTOR_KEYS)
    kw: dict[str, Any] = {}
    if "kind" in value:
        kw["kind"] = c.string(value["kind"], path + ("kind",), EXECUTORS)
    for key in ("shards", "cpus_per_task", "time_min", "array_parallelism"):
        if key in value:
            kw[key] = c.integer(value[key], path + (key,), 1)
    if "gpus_per_task" in value:
        kw["gpus_per_task"] = c.integer(value["gpus_per_task"], path + ("gpus_per_task",), 0)
    if "mem_gb" in value:
        kw["mem_gb"] = c.number(value["mem_gb"], path + ("mem_gb",), 0, open_lo=True)
    if "partition" in value:
        kw["partition"] = c.string(value["partition"], path + ("partition",))
    if "sbatch" in value:
        sb = value["sbatch"]
        if not isinstance(sb, dict):
            raise c.expected(path + ("sbatch",), "a mapping of sbatch options, e.g. {account: abc, qos: high}", sb)
        kw["sbatch"] = tuple((str(k).replace("-", "_"), "" if v is None else str(v)) for k, v in sb.items())
    return ExecutorSpec(**kw)


def shard_from_environment(environ=None) -> tuple[int, int]:
    """``--shard auto``: this array task's share, from SLURM's ``SLURM_ARRAY_TASK_*`` variables.

    Arrays may start at any index (``--array=1-8``), so the share is the task id minus the array's
    first id, out of the task count.
    """
    env = os.environ if environ is None else environ
    try:
        task = int(env["SLURM_ARRAY_TASK_ID"])
        count = int(env["SLURM_ARRAY_TASK_COUNT"])
    except KeyError:
        raise ConfigError("--shard auto: SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are not set; run it "
                          "inside a SLURM job array (sbatch --array=0-N) or give --shard i/n") from None
    except ValueError:
        raise ConfigError("--shard auto: SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are not integers") from None
    first = int(env.get("SLURM_ARRAY_TASK_MIN", 0))
    i = task - first
    if not (count >= 1 and 0 <= i < count):
        raise ConfigError(f"--shard auto: array task {task} (first {first}) is outside a {count}-task array")
    return i, count


def _executor_parameters(spec: ExecutorSpec, name: str, gpus: int | None) -> dict:
    params: dict[str, Any] = {"name": name, "timeout_min": spec.time_min, "cpus_per_task": spec.cpus_per_task,
                              "gpus_per_node": gpus, "slurm_partition": spec.partition}
    if spec.mem_gb is not None:
        params["mem_gb"] = spec.mem_gb
    return params


@dataclass
class Submission:
    """What was submitted: job ids, the log folder, and the jobs themselves (submitit ``Job`` objects)."""

    array_id: str
    final_id: str
    logs: Path
    shard_jobs: list = field(default_factory=list)
    final_job: Any = None

    def follow_lines(self) -> list[str]:
        """How a user follows the jobs from a shell."""
        return [
            f"submitted: SAM shards as job array {self.array_id} ({len(self.shard_jobs)} tasks), "
            f"evaluation and report as job {self.final_id} (starts when every shard has succeeded)",
            f"follow:    squeue -j {self.array_id},{self.final_id}    sacct -j {self.array_id},{self.final_id}",
            f"logs:      {self.logs}/ (one <job id>_0_log.out and _log.err per job and array task)",
            "a preempted shard is requeued by submitit and resumes; a failed one: run the same command again "
            "(finished maps are skipped)",
        ]


class ShardTask:
    """One SAM shard of a study, as a job: ``samis reproduce DEF --shard i/n``.

    Subclasses submitit's ``Checkpointable`` at submit time (see :func:`_checkpointable`), so that on
    preemption or time-out the job is requeued with the same arguments; it then skips the maps it wrote.
    """

    def __call__(self, definition: str, index: int, count: int, subset=(None, None)) -> str:
        from samis.experiments.reproduce import reproduce

        reproduce(_load(definition, subset), shard=(index, count), progress=False)
        return f"shard {index}/{count} done"


class FinishTask:
    """The job that runs after every shard: the rest of ``samis reproduce DEF`` (evaluate, tables, figures)."""

    def __call__(self, definition: str, subset=(None, None)) -> str:
        from samis.experiments.reproduce import reproduce

        out = reproduce(_load(definition, subset), progress=False)
        return str(out / "README.md")


def _load(path: str, subset):
    """The definition a job runs: the file, restricted as the submitting command was (``--limit/--stems``)."""
    from samis.datasets.subset import restrict_definition
    from samis.experiments.definition import load_definition

    return restrict_definition(load_definition(path), *subset)


def _checkpointable(task_class):
    import submitit

    return type(task_class.__name__, (task_class, submitit.helpers.Checkpointable), {})


def submit(definition, spec: ExecutorSpec, echo=print, subset=(None, None)) -> Submission:
    """Submit the study ``definition`` (a loaded ``Definition``) with ``spec`` (kind slurm or submitit-local).

    slurm: returns as soon as the array and the dependent job are queued. submitit-local: the local
    executor has no job dependencies, so this waits for the shards before it starts the final job,
    and waits for that too.
    """
    spec.check()
    if spec.kind == "local":
        raise ConfigError("executor local runs in this process; submit() is for slurm and submitit-local")
    try:
        import submitit
    except ImportError:
        raise ConfigError("the cluster executors need submitit: pip install 'samis[cluster]' (or pip install submitit)") from None
    logs = definition.output / "slurm"
    logs.mkdir(parents=True, exist_ok=True)
    cluster = "slurm" if spec.kind == "slurm" else "local"

    def executor(name: str, gpus: int | None, extra: dict, parallelism: int | None):
        ex = submitit.AutoExecutor(folder=logs, cluster=cluster)
        params = _executor_parameters(spec, name, gpus)
        params["slurm_array_parallelism"] = parallelism
        if cluster == "slurm" and extra:
            params["slurm_additional_parameters"] = extra
        ex.update_parameters(**params)
        return ex

    path = str(definition.path)
    n = spec.shards
    shards = executor(f"samis-{definition.name}", spec.gpus_per_task, dict(spec.sbatch), spec.array_parallelism)
    shard_jobs = shards.map_array(_checkpointable(ShardTask)(), [path] * n, list(range(n)), [n] * n, [subset] * n)
    array_id = str(shard_jobs[0].job_id).split("_")[0]
    echo(f"{spec.kind}: {n} shard job(s) submitted as {array_id}")
    if cluster != "slurm":
        for job in shard_jobs:  # the local executor has no dependencies: wait here
            _wait(job, logs)
    # evaluation and rendering need no GPU; on SLURM they wait for every array task to succeed
    report = executor(f"samis-{definition.name}-report", None,
                      {**dict(spec.sbatch), "dependency": f"afterok:{array_id}"}, None)
    final = report.submit(_checkpointable(FinishTask)(), path, subset)
    sub = Submission(array_id=array_id, final_id=str(final.job_id), logs=logs, shard_jobs=list(shard_jobs),
                     final_job=final)
    if cluster != "slurm":
        _wait(final, logs)
    return sub


def _wait(job, logs: Path) -> None:
    """Wait for a local job; a failure is one error line that names the job's log, not a traceback."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    try:
        job.result()
    except (FailedJobError, UncompletedJobError) as exc:
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise SamisError(f"job {job.job_id} failed ({last}); its log is {logs}/{job.job_id}_0_log.err. "
                         "Fix the cause and run the same command again: finished maps are kept") from None

