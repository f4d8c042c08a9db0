"""``samis datasets list`` and ``samis datasets check``: see what samis finds before a long run starts.

``check`` decodes every image and mask of a split, so a truncated file or a mask of the wrong size
shows up here, named, instead of hours into a SAM run.
"""

from __future__ import annotations

import click

from samis.cli.selection import dataset_options, open_dataset
from samis.errors import DataError, SamisError


@click.group()
def datasets():
    """List the supported sets and check a local copy of one."""


@datasets.command("list")
@click.option("--data-root", type=click.Path(), default=None, help="Folder holding the sets (default: SAMIS_DATA_ROOT).")
def list_datasets(data_root):
    """Names, splits and layouts, and whether each set is found under the data root."""
    from samis.datasets import DATASETS, get_dataset

    for name, cls in DATASETS.items():
        click.echo(f"{name:7s} splits: {', '.join(cls.splits):22s} {cls.description}")
        if cls.options:
            click.echo(f"        options: {', '.join(cls.options)}")
        if cls.folder is None:
            click.echo("        location: the set's own folder, passed as --data-root (layout: docs/datasets.md)")
            continue
        try:
            where = f"found at {get_dataset(name, root=data_root).root}"
        except SamisError as exc:
            where = f"not found ({str(exc).split(';')[0]})"
        click.echo(f"        folder: {cls.folder}/  {where}")


@datasets.command("check")
@click.argument("name")
@click.option("--split", default=None, help="Split to check (default: full).")
@click.option("--data-root", type=click.Path(), default=None, help="Folder holding the set, or the set itself.")
@click.option("--quick", is_flag=True, help="Only list and pair the files; do not decode them.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar while decoding.")
@dataset_options
def check(name, split, data_root, quick, progress, dataset_option, limit, stems_file):
    """Count a split's images per category and decode every image and mask, reporting each problem."""
    from tqdm import tqdm

    ds = open_dataset(name, data_root, split, dataset_option, limit, stems_file)
    samples = ds.samples()
    click.echo(f"{ds.name} split {ds.split} at {ds.root}: {len(samples)} images")
    if quick:
        for category, count in ds.counts().items():
            click.echo(f"  {category:12s} {count:6d}")
        return

    empty: dict[str, int] = {}
    sizes: set[tuple[int, int]] = set()
    problems: list[str] = []
    for sample in tqdm(samples, desc=f"checking {ds.name}", unit="img", disable=not progress, leave=False):
        try:
            image, mask = sample.load()
        except DataError as exc:
            problems.append(str(exc))
            continue
        sizes.add(image.shape[:2])
        empty[sample.category] = empty.get(sample.category, 0) + int(not mask.any())

    click.echo(f"  {'category':12s} {'images':>6s} {'empty masks':>12s}")
    for category, count in ds.counts().items():
        click.echo(f"  {category:12s} {count:6d} {empty.get(category, 0):12d}")
    if sizes:
        hs, ws = [s[0] for s in sizes], [s[1] for s in sizes]
        if len(sizes) == 1:
            click.echo(f"  image size (WxH): {ws[0]}x{hs[0]} (all)")
        else:
            click.echo(f"  image sizes (WxH): width {min(ws)}..{max(ws)}, height {min(hs)}..{max(hs)} ({len(sizes)} distinct)")
    for problem in problems:
        click.echo(f"  problem: {problem}", err=True)
    if problems:
        raise DataError(f"{len(problems)} of {len(samples)} samples of {ds.name}/{ds.split} failed to load (listed above)")
    click.echo(f"  all {len(samples)} samples decode and their masks match their images' sizes")
