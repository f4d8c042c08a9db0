"""``samis report EXPERIMENT``: the HTML report (index.html + thumbnails) from a study's existing files."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("experiment", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tables/--no-tables", default=True, show_default=True,
              help="Re-render the tables first (each is redrawn only when its inputs changed).")
def report(experiment, tables):
    """Write <output>/index.html for EXPERIMENT (a definition YAML): sortable tables with CIs, figures,
    run facts and a per-image browser, viewable from file:// with no server."""
    from samis.experiments import load_definition
    from samis.experiments.readme import write_readme
    from samis.report.html import write_html

    definition = load_definition(experiment)
    if tables:
        from samis.experiments.render import render_tables

        render_tables(definition, echo=lambda m: click.echo(m, err=True))
    write_readme(definition)
    path = write_html(definition, echo=lambda m: click.echo(m, err=True))
    click.echo(str(path))
