"""Where a study's files go, derived from its definition only, so every step and every shard agrees.

    <predictions>/<label>/<method>/<stem>.png              SAM maps (the stored-baseline layout)
    <output>/results/<label>/<split>/<source>[.<protocol>].csv (+ .per_image.csv, .curves.npz, .fingerprint.json)
    <output>/timing/<label>/<method>.<i>-of-<n>.json         seconds and images of each SAM run
    <output>/tables/<name>.<md|tex|csv>, <output>/figures/<name>-<label>-<split>.<pdf|png>
    <output>/README.md                                       what is there and what produced it

``source`` is ``sam`` (this study's SAM maps) or ``baselines`` (stored maps of published models):
two results files per unit, which the report reads together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from samis.experiments.definition import DatasetSpec, Definition
from samis.results_files import output_paths, written_files

TABLE_SUFFIX = {"md": ".md", "latex": ".tex", "csv": ".csv"}


@dataclass(frozen=True)
class Source:
    name: str  # "sam" or "baselines"
    root: Path  # holds <method>/<stem>.*
    methods: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    definition: Definition

    @property
    def output(self) -> Path:
        return self.definition.output

    def sam_root(self, label: str) -> Path:
        return self.definition.predictions / label

    def sam_methods(self, spec: DatasetSpec | None = None, split: str | None = None) -> list[str]:
        """Every SAM method of the study (of the modes run on ``spec``/``split``): one per model and mode config, in definition order."""
        from samis.runners.config import method_name

        return [method_name(m.name, cfg) for m in self.definition.models for cfg in self.definition.modes
                if spec is None or spec.runs(cfg, split)]

    def sources(self, spec: DatasetSpec, split: str) -> list[Source]:
        out = [Source("sam", self.sam_root(spec.label), tuple(self.sam_methods(spec, split)))]
        base = self.definition.baselines.get(spec.label)
        if base is not None:
            out.append(Source("baselines", base.root, tuple(base.method_names(split))))
        return out

    def results_base(self, label: str, split: str, source: str) -> Path:
        """The ``out`` given to ``evaluate`` (it adds ``.<protocol>`` when the unit has several)."""
        return self.output / "results" / label / split / f"{source}.csv"

    def results_files(self, spec: DatasetSpec, split: str, source: str, protocol: str) -> dict[str, Path]:
        """Every file name of one protocol's results (``summary``, ``per_image``, ``curves``)."""
        return output_paths(self.results_base(spec.label, split, source), protocol, len(spec.protocols) > 1)

    def written_results(self, spec: DatasetSpec, split: str, source: str, protocol: str) -> list[Path]:
        """The files the evaluation writes for one protocol (no curves file for a protocol without curves)."""
        return list(written_files(self.results_base(spec.label, split, source), protocol, len(spec.protocols) > 1).values())

    def timing_dir(self, label: str) -> Path:
        return self.output / "timing" / label

    @property
    def tables(self) -> Path:
        return self.output / "tables"

    @property
    def figures(self) -> Path:
        return self.output / "figures"
