"""``reproduce``: a definition in, SAM maps, results, tables, figures, a README and index.html out, resumably.

Every step skips what is already done (maps by stem, results by fingerprint, tables and figures by
stamp), so a second call is fast and a crashed call resumes. ``shard="i/n"`` runs only the SAM
share of that shard (several machines each take one); evaluation and rendering then run once,
without ``shard``, over the merged maps.
"""

from __future__ import annotations

import os
from pathlib import Path

from samis.errors import ConfigError
from samis.experiments.definition import Definition, load_definition

STEPS = ("run", "evaluate", "tables", "figures")


def reproduce(definition: Definition | str | os.PathLike, only: str | None = None, shard=None, jobs: int | None = None,
              progress: bool = True, echo=print) -> Path:
    """Run the steps of ``definition`` (all, or ``only`` one of run/evaluate/tables/figures); return its output folder."""
    if not isinstance(definition, Definition):
        definition = load_definition(definition)
    if only is not None and only not in STEPS:
        raise ConfigError(f"--only {only!r}: choose one of {', '.join(STEPS)}")
    if shard is not None:
        if only not in (None, "run"):
            raise ConfigError(f"--shard runs the SAM share only; it cannot be combined with --only {only}")
        steps = ("run",)
    else:
        steps = (only,) if only else STEPS
    definition.output.mkdir(parents=True, exist_ok=True)
    if "run" in steps:
        from samis.experiments.run_sam import run_sam

        run_sam(definition, shard=shard if shard is not None else (0, 1), progress=progress, echo=echo)
    if "evaluate" in steps:
        from samis.experiments.evaluate_step import evaluate_all

        evaluate_all(definition, jobs=jobs, progress=progress, echo=echo)
    if "tables" in steps:
        from samis.experiments.render import render_tables

        render_tables(definition, echo=echo)
    if "figures" in steps:
        from samis.experiments.render import render_figures

        render_figures(definition, echo=echo)
    from samis.experiments.readme import write_readme

    write_readme(definition)
    if {"tables", "figures"} & set(steps):
        from samis.report.html import write_html

        write_html(definition, echo=echo)
    return definition.output
