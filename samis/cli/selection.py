"""The dataset options and subset flags that ``run``, ``evaluate`` and ``reproduce`` share.

``--dataset-option key=value`` sets an adapter option (the keys of a dataset entry in a definition);
``--limit N`` keeps a seeded, category-stratified sample of N images and ``--stems FILE`` the images
listed in FILE, so a quick run and its evaluation see exactly the same images.
"""

from __future__ import annotations

import click

from samis.errors import ConfigError


def parse_key_values(pairs, flag: str, example: str) -> dict[str, str]:
    """``("object=bottle", ...)`` -> ``{"object": "bottle"}`` for a repeatable ``flag KEY=VALUE``."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"{flag} {pair!r}: write it key=value, e.g. {flag} {example}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def parse_dataset_options(pairs) -> dict[str, str]:
    """``--dataset-option`` values; the adapter checks and types them."""
    return parse_key_values(pairs, "--dataset-option", "object=bottle")


def subset_options(func):
    """``--limit N`` and ``--stems FILE``."""
    func = click.option("--stems", "stems_file", type=click.Path(dir_okay=False), default=None,
                        help="Only the images whose stems FILE lists (one per line, # comments).")(func)
    return click.option("--limit", type=click.IntRange(min=1), default=None,
                        help="Only N images: a seeded sample stratified by category, the same for every mode and model.")(func)


def dataset_options(func):
    """``--dataset-option KEY=VALUE`` (repeatable) plus the subset flags."""
    func = subset_options(func)
    return click.option("--dataset-option", "dataset_option", multiple=True, metavar="KEY=VALUE",
                        help="Adapter option, e.g. object=bottle (mvtec), mask_suffix=_label, recursive=true (folder).")(func)


def open_dataset(name, root, split, dataset_option=(), limit=None, stems_file=None, seed: int = 0):
    """The dataset the command line asks for, options and subset applied."""
    from samis.datasets import get_dataset
    from samis.datasets.subset import make_subset

    return get_dataset(name, root=root, split=split, options=parse_dataset_options(dataset_option),
                       subset=make_subset(limit, stems_file, seed))
