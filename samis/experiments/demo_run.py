"""The embedded demo: synthetic data and FT maps where the demo definition expects them, then reproduce.

The demo definition names a ``folder`` dataset and one baseline folder; this writes both (the
generator and FT skip files already there) and then runs the definition like any other study.
"""

from __future__ import annotations

from pathlib import Path

from samis.errors import ConfigError
from samis.experiments.definition import load_definition


def run_demo(definition: str | Path, per_class: int = 4, progress: bool = True, echo=print) -> Path:
    from samis.baselines import write_ft_maps
    from samis.demo import generate
    from samis.experiments.reproduce import reproduce

    draft = load_definition(definition, check_paths=False)  # its data does not exist yet
    folders = [d for d in draft.datasets if d.name == "folder"]
    if len(folders) != 1:
        raise ConfigError(f"{draft.path}: datasets: the demo definition needs exactly one folder dataset, found {len(folders)}")
    spec = folders[0]
    stems = generate(spec.data_root, per_class=per_class, seed=draft.seed)
    echo(f"demo: {len(stems)} synthetic images in {spec.data_root}")
    baseline = draft.baselines.get(spec.label)
    if baseline is not None:
        samples = spec.open(spec.splits[0]).samples()
        folder = write_ft_maps(samples, baseline.root)
        echo(f"demo: frequency-tuned saliency maps in {folder}")
    return reproduce(load_definition(definition), progress=progress, echo=echo)
