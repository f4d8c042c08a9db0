"""Box and point modes: every component's prompt in one batched decoder call per image."""

from __future__ import annotations

import numpy as np

from samis.prompts import ComponentPrompts, components
from samis.runners.config import PromptedConfig
from samis.runners.maps import ORACLE, empty_map, soft_map
from samis.runners.runner import ImageFrame, RunModel


def prompts_for(cfg: PromptedConfig) -> ComponentPrompts:
    """The prompt generator a box/point/box+point configuration asks for."""
    return ComponentPrompts(
        use_box=cfg.uses_box,
        n_points=cfg.n_points,
        n_negative=cfg.n_negative,
        jitter=cfg.jitter,
        min_area=cfg.min_area,
        neg_ring=tuple(cfg.neg_ring),
        seed=cfg.seed,
    )


def prompted_map(backend, predictor, mask: np.ndarray, cfg: PromptedConfig, stem: str, previous=None):
    """The soft map of one image and whether it had no prompt (empty ground truth -> all zero).

    The predictor's image must already be set. ``previous``: the last round's low-res logits, for
    iterative modes (None: a first round).
    """
    prompts = prompts_for(cfg)(mask, stem, previous=previous)
    if len(prompts) == 0:
        return empty_map(predictor.original_size), True
    targets = oracle_targets(mask, cfg)
    return soft_map(backend.decode(predictor, prompts, cfg.multimask, cfg.decoder, mask_input=previous, targets=targets)), False


def oracle_targets(mask: np.ndarray, cfg: PromptedConfig) -> np.ndarray | None:
    """The components the prompts were read off (N x H x W, prompt order), for ``multimask=oracle`` only."""
    if cfg.multimask != ORACLE:
        return None
    return np.stack(components(mask, cfg.min_area))


class PromptedRunner:
    """Prompts read off the ground truth, decoded from the image's (cached) embedding."""

    def __init__(self, run_model: RunModel):
        self.run_model = run_model
        self.generated = 0

    def needs_ground_truth(self, cfg: PromptedConfig) -> bool:
        return cfg.uses_ground_truth

    def map(self, frame: ImageFrame, cfg: PromptedConfig) -> tuple[np.ndarray, bool]:
        predictor = frame.embed(self.run_model.predictor(cfg.autocast))
        return prompted_map(self.run_model.backend, predictor, frame.gt, cfg, frame.stem)
