"""What the engine asks of a mode runner, and what it hands one: the run's model and one image at a time.

A mode runner (one class per mode family, named by its configuration's ``runner``) answers two
questions: does a configuration need the image's ground truth (``needs_ground_truth``), and what is
the map of one image (``map``). The engine loops over images and runners and writes the maps; it
knows nothing about prompts, policies or SAM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from samis.backends import load_object
from samis.runners.config import ModeConfig


@dataclass
class RunModel:
    """The model of a run as the runners share it: its backend, weights, predictors and caches.

    One predictor per autocast setting (the embedding is keyed by it); ``cache_dir`` is the cache
    root (None: ``samis.paths.cache_dir()``, False: memory only).
    """

    backend: object
    model: object
    digest: str
    cache_dir: object = None
    name: str = ""  # the variant's name (vit_t, ...): runners that name files beside the maps read it
    _predictors: dict = field(default_factory=dict)

    def predictor(self, autocast: str | None = None):
        if autocast not in self._predictors:
            self._predictors[autocast] = self.backend.predictor(self.model, self.digest, cache_dir=self.cache_dir,
                                                                autocast=autocast)
        return self._predictors[autocast]

    @property
    def predictors(self) -> list:
        return list(self._predictors.values())

    @property
    def mask_root(self) -> Path | None:
        """Where raw automatic masks are cached for this model (None without a disk cache)."""
        if self.cache_dir is False:
            return None
        from samis.paths import cache_dir as default_cache

        return Path(self.cache_dir if self.cache_dir is not None else default_cache()) / "masks" / self.digest[:16]


@dataclass
class ImageFrame:
    """One image as every runner of the run sees it: pixels, stem, ground truth (when some runner needs it).

    ``embed(predictor)`` sets the image on a predictor once, however many modes decode from it.
    """

    stem: str
    image: np.ndarray
    gt: np.ndarray | None = None
    category: str | None = None  # the sample's category, for runners that keep per-image records
    _set_on: object = None

    def embed(self, predictor):
        if self._set_on is not predictor:
            predictor.set_image(self.image)
            self._set_on = predictor
        return predictor

    def forget(self) -> None:
        """The predictor's image may have changed (an automatic generator sets its own crops)."""
        self._set_on = None


class ModeRunner(Protocol):
    """One mode family. Built once per run with the run's model; ``generated`` counts generate() calls."""

    generated: int

    def __init__(self, run_model: RunModel): ...

    def needs_ground_truth(self, cfg: ModeConfig) -> bool: ...

    def map(self, frame: ImageFrame, cfg: ModeConfig) -> tuple[np.ndarray, bool]:
        """The 8-bit map of one image and whether the image had nothing to prompt (empty ground truth)."""

    # optional: ``record(frame, cfg) -> dict``, a per-image record the engine writes before the map
    # (``samis.runners.automatic_records``); a stem is done when it has both


def runner_class(cfg: ModeConfig) -> type:
    """The runner class a configuration names (imported on first use: the runners need torch)."""
    return load_object(cfg.runner)
