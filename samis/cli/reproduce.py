"""``samis reproduce EXPERIMENT``: run, evaluate and render a study from its definition, resumably."""

from __future__ import annotations

import click

from samis.cli.selection import subset_options

STEPS = ("run", "evaluate", "tables", "figures")


@click.command()
@click.argument("experiment", type=click.Path(dir_okay=False))
@click.option("--only", type=click.Choice(STEPS), default=None,
              help="Run one step only: run (SAM maps), evaluate, tables or figures.")
@click.option("--shard", default=None, metavar="I/N",
              help="Run only the SAM share I of N (0-based); evaluate afterwards without --shard.")
@click.option("--jobs", type=int, default=None, help="Evaluation worker processes (default: all cores).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@subset_options
def reproduce(experiment, only, shard, jobs, quiet, limit, stems_file):
    """Reproduce the study defined in EXPERIMENT (a YAML file, see docs/experiments.md).

    Work already done is skipped: SAM maps by image, results while their maps are unchanged, tables
    and figures while their inputs are unchanged. A second call is fast; a crashed call resumes.
    """
    from samis.datasets.subset import restrict_definition
    from samis.experiments.definition import load_definition
    from samis.experiments.reproduce import reproduce as run

    definition = restrict_definition(load_definition(experiment), limit, stems_file)
    out = run(definition, only=only, shard=shard, jobs=jobs, progress=not quiet, echo=click.echo)
    click.echo(f"report: {out / 'README.md'}")
