"""``samis reproduce EXPERIMENT``: run, evaluate and render a study from its definition, resumably."""

from __future__ import annotations

import click

from samis.cli.selection import subset_options

STEPS = ("run", "evaluate", "tables", "figures")
EXECUTORS = ("local", "slurm", "submitit-local")  # samis.experiments.cluster.EXECUTORS (not imported: keep --help light)


@click.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--only", type=click.Choice(STEPS), default=None,
              help="Run one step only: run (SAM maps), evaluate, tables or figures.")
@click.option("--shard", default=None, metavar="I/N|auto",
              help="Run only the SAM share I of N (0-based); evaluate afterwards without --shard. "
                   "'auto' reads SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (inside your own sbatch array).")
@click.option("--jobs", type=int, default=None, help="Evaluation worker processes (default: all cores).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--executor", type=click.Choice(EXECUTORS), default=None,
              help="local (default): run here. slurm: submit a job array over --shards, then one job that "
                   "evaluates and renders when all have succeeded. submitit-local: the same jobs as local "
                   "subprocesses (to try a set-up). Default from the definition's executor: section.")
@click.option("--shards", type=int, default=None, help="Array tasks for the SAM share (slurm, submitit-local).")
@click.option("--gpus-per-task", type=int, default=None, help="GPUs per shard job.")
@click.option("--cpus-per-task", type=int, default=None, help="CPUs per job.")
@click.option("--mem-gb", type=float, default=None, help="Memory per job, GB.")
@click.option("--time-min", type=int, default=None, help="Time limit per job, minutes.")
@click.option("--partition", default=None, help="SLURM partition.")
@click.option("--array-parallelism", type=int, default=None, help="At most this many shard jobs at once.")
@click.option("--sbatch", "sbatch", multiple=True, metavar="KEY=VALUE",
              help="Extra sbatch option, repeatable (e.g. --sbatch account=abc --sbatch qos=high).")
@subset_options
def reproduce(experiment, only, shard, jobs, quiet, executor, shards, gpus_per_task, cpus_per_task, mem_gb,
              time_min, partition, array_parallelism, sbatch, limit, stems_file):
    """Reproduce the study defined in EXPERIMENT (a YAML file, see docs/experiments.md).

    Work already done is skipped: SAM maps by image, results while their maps are unchanged, tables
    and figures while their inputs are unchanged. A second call is fast; a crashed call resumes.
    With --executor slurm the SAM share runs as a job array on the cluster (logs under
    results/<experiment>/slurm/) and this command returns after printing the job ids.
    """
    from samis.errors import ConfigError
    from samis.datasets.subset import restrict_definition
    from samis.experiments.cluster import parse_sbatch_options, shard_from_environment, submit
    from samis.experiments.definition import load_definition
    from samis.experiments.reproduce import reproduce as run

    definition = restrict_definition(load_definition(experiment), limit, stems_file)
    spec = definition.executor.override(kind=executor, shards=shards, gpus_per_task=gpus_per_task,
                                        cpus_per_task=cpus_per_task, mem_gb=mem_gb, time_min=time_min,
                                        partition=partition, array_parallelism=array_parallelism,
                                        sbatch=parse_sbatch_options(sbatch))
    if shard == "auto":
        shard = shard_from_environment()
    if spec.kind != "local":
        if shard is not None or only is not None:
            raise ConfigError(f"--executor {spec.kind} runs the whole study; --shard and --only are for one local step")
        sub = submit(definition, spec, echo=click.echo, subset=(limit, stems_file))
        for line in sub.follow_lines() if spec.kind == "slurm" else []:
            click.echo(line)
        if spec.kind != "slurm":
            click.echo(f"report: {definition.output / 'README.md'}")
        return
    out = run(definition, only=only, shard=shard, jobs=jobs, progress=not quiet, echo=click.echo)
    click.echo(f"report: {out / 'README.md'}")
