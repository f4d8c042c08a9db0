"""``samis demo``: the whole study on embedded synthetic data, in a few minutes on a CPU."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT = Path(__file__).resolve().parents[2] / "experiments" / "demo.yaml"


@click.command()
@click.option("--definition", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT, show_default=True,
              help="The demo definition (a folder dataset whose data and FT maps the demo writes first).")
@click.option("--per-class", type=int, default=4, show_default=True, help="Synthetic images per defect class.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(definition, per_class, quiet):
    """Generate synthetic steel defects, compute frequency-tuned saliency, run SAM and render the report."""
    from samis.experiments.demo_run import run_demo

    out = run_demo(definition, per_class=per_class, progress=not quiet, echo=click.echo)
    click.echo(f"demo report: {out / 'README.md'}")
