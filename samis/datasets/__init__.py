"""Industrial defect sets in their original published layouts, as lists of lazily loaded samples.

    from samis.datasets import get_dataset
    ds = get_dataset("sd900", split="test")      # root: explicit, else SAMIS_DATA_ROOT
    for s in ds.samples():
        image, mask = s.load()                   # H x W x 3 uint8, H x W bool
    get_dataset("mvtec", root, options={"object": "bottle"}, subset=Subset(limit=15))

See docs/datasets.md for the layouts, splits and errors.
"""

from samis.datasets.base import Dataset, Sample
from samis.datasets.registry import DATASETS, describe, get_dataset
from samis.datasets.subset import Subset

__all__ = ["DATASETS", "Dataset", "Sample", "Subset", "describe", "get_dataset"]
