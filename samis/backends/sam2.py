"""SAM 2.1 (the official ``sam2`` package) as a samis model backend.

Prompted modes go through the package's ``SAM2ImagePredictor`` (its batched ``_predict``: every
component of an image in one decoder call, as samis does for SAM 1), automatic mode through its
``SAM2AutomaticMaskGenerator``. Both read the image state from samis' embedding cache; everything
after that is the package's own code, so samis' maps are SAM 2's maps.
"""

from __future__ import annotations

import torch

from samis.backends import generator_kwargs
from samis.backends.feature_cache import CachedFeaturesMixin, PackagedBackend
from samis.errors import ConfigError

_INSTALL = "SAM 2.1 needs the sam2 package: pip install 'samis[sam2]'"


def _package():
    try:
        import sam2.build_sam  # noqa: F401
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
        from sam2.sam2_image_predictor import SAM2ImagePredictor
    except ImportError as exc:
        raise ConfigError(f"{_INSTALL} ({exc})") from None
    return sam2.build_sam, SAM2ImagePredictor, SAM2AutomaticMaskGenerator


def build(name: str, device="cpu"):
    """The variant's architecture with the package's own initialisation (seed torch first for a fixed one)."""
    from samis.models.registry import get_spec

    build_sam, _, _ = _package()
    spec = get_spec(name)
    return build_sam.build_sam2(spec.config, None, device=str(device), mode="eval")


def cached_predictor_class():
    _, SAM2ImagePredictor, _ = _package()

    class CachedSam2Predictor(CachedFeaturesMixin, SAM2ImagePredictor):
        """``SAM2ImagePredictor`` whose ``set_image`` reads and fills the embedding cache."""

        family = "sam2"

        def __init__(self, model, model_digest, cache_dir=None, autocast=None, **kwargs):
            SAM2ImagePredictor.__init__(self, model, **kwargs)
            self._init_cache(model_digest, cache_dir, autocast, tag=(model.image_size, tuple(kwargs.items())))

        def _encode(self, image):
            SAM2ImagePredictor.set_image(self, image)

        def _export(self):
            high = self._features["high_res_feats"]
            return {"image_embed": self._features["image_embed"], **{f"high_res_{i}": f for i, f in enumerate(high)}}

        def _restore(self, arrays, original_size):
            self.reset_predictor()
            self._orig_hw = [tuple(int(v) for v in original_size)]
            n = sum(k.startswith("high_res_") for k in arrays)
            self._features = {"image_embed": arrays["image_embed"],
                              "high_res_feats": [arrays[f"high_res_{i}"] for i in range(n)]}
            self._is_image_set = True

        @property
        def original_size(self):
            return tuple(self._orig_hw[-1])

    return CachedSam2Predictor


class Sam2Backend(PackagedBackend):
    """Loads, encodes, decodes and generates for SAM 2.1's image model."""

    family = "sam2"
    build = staticmethod(build)
    predictor_class = staticmethod(cached_predictor_class)

    @torch.no_grad()
    def decode(self, predictor, prompts, rule, decoder: str = "fast", mask_input=None, targets=None) -> torch.Tensor:
        """Per-prompt logits at the original size (N x H x W), one batched ``_predict`` call per output kind.

        ``decoder`` is SAM 1's choice of implementation; SAM 2 has only its own. ``targets``: each
        prompt's ground-truth component, for ``rule="oracle"`` (``samis.runners.maps.decode_choice``).
        """
        from samis.runners.maps import decode_choice

        mask, coords, labels, box = predictor._prep_prompts(
            prompts.point_coords, prompts.point_labels, prompts.boxes, mask_input, normalize_coords=True)

        def run(multimask):
            logits, iou, _ = predictor._predict(coords, labels, box, mask, multimask_output=multimask, return_logits=True)
            return logits, iou

        return decode_choice(run, rule, targets)  # oracle: one call of each kind (SAM 2's API gives no four at once)

    def mask_generator(self, model, predictor, cfg):
        """The package's generator with the configuration's parameters, encoding through ``predictor``."""
        _, _, SAM2AutomaticMaskGenerator = _package()
        gen = SAM2AutomaticMaskGenerator(model, **generator_kwargs(cfg))
        if cfg.min_mask_region_area:
            # the generator's own predictor fills holes / removes sprinkles up to this area
            predictor = cached_predictor_class()(model, predictor.model_digest, cache_dir=_cache_root(predictor),
                                                 autocast=predictor.autocast,
                                                 max_hole_area=cfg.min_mask_region_area,
                                                 max_sprinkle_area=cfg.min_mask_region_area)
        gen.predictor = predictor
        return gen


def _cache_root(predictor):
    root = predictor.store.root
    return False if root is None else root.parent.parent
