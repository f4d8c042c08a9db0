"""HQ-SAM (the official ``segment-anything-hq`` package) as a samis model backend.

HQ-SAM is SAM 1 with an extra output token that also reads early ViT features; its predictor and
generator mirror segment-anything's. Prompted modes go through the package's ``predict_torch`` (every
component of an image in one call), automatic mode through its ``SamAutomaticMaskGenerator``; both
read the image state (embedding + the early features the HQ token uses) from samis' embedding cache.
"""

from __future__ import annotations

import torch

from samis.backends import generator_kwargs
from samis.backends.feature_cache import CachedFeaturesMixin, PackagedBackend
from samis.errors import ConfigError


def _package():
    try:
        import warnings

        with warnings.catch_warnings():  # its TinyViT re-registers timm model names
            warnings.simplefilter("ignore")
            import segment_anything_hq as hq
            from segment_anything_hq.automatic_mask_generator import SamAutomaticMaskGenerator
    except ImportError as exc:
        raise ConfigError(f"HQ-SAM needs the segment-anything-hq package: pip install 'samis[hq]' ({exc})") from None
    return hq, SamAutomaticMaskGenerator


def build(name: str, device="cpu"):
    """The variant's architecture with the package's own initialisation (seed torch first for a fixed one)."""
    from samis.models.registry import get_spec

    hq, _ = _package()
    model = hq.sam_model_registry[get_spec(name).builder]()
    return model.eval().to(device)


def cached_predictor_class():
    hq, _ = _package()

    class CachedHqPredictor(CachedFeaturesMixin, hq.SamPredictor):
        """HQ-SAM's ``SamPredictor`` whose ``set_image`` reads and fills the embedding cache.

        The HQ decoder reads only the first of the encoder's intermediate features, so only that
        one is stored.
        """

        family = "hq"

        def __init__(self, model, model_digest, cache_dir=None, autocast=None):
            hq.SamPredictor.__init__(self, model)
            m = model
            tag = (m.image_encoder.img_size, m.pixel_mean.flatten().tolist(), m.pixel_std.flatten().tolist(),
                   m.image_format)
            self._init_cache(model_digest, cache_dir, autocast, tag=tag)

        def _encode(self, image):
            hq.SamPredictor.set_image(self, image, "RGB")

        def _export(self):
            return {"features": self.features, "interm_0": self.interm_features[0]}

        def _restore(self, arrays, original_size):
            self.reset_image()
            h, w = (int(v) for v in original_size)
            self.original_size = (h, w)
            self.input_size = self.transform.get_preprocess_shape(h, w, self.transform.target_length)
            self.features = arrays["features"]
            self.interm_features = [arrays["interm_0"]]
            self.is_image_set = True

    return CachedHqPredictor


class HqSamBackend(PackagedBackend):
    """Loads, encodes, decodes and generates for HQ-SAM."""

    family = "hq"
    build = staticmethod(build)
    predictor_class = staticmethod(cached_predictor_class)

    @torch.no_grad()
    def decode(self, predictor, prompts, rule, decoder: str = "fast", mask_input=None, targets=None) -> torch.Tensor:
        """Per-prompt logits at the original size (N x H x W), one batched ``predict_torch`` call per
        output kind. ``targets``: each prompt's ground-truth component, for ``rule="oracle"``."""
        from samis.backends.sam1 import prompt_tensors
        from samis.runners.maps import decode_choice

        coords, labels, boxes = prompt_tensors(predictor, prompts)  # HQ-SAM's predictor is SAM 1's
        if mask_input is not None:
            mask_input = torch.as_tensor(mask_input, dtype=torch.float, device=predictor.device)

        def run(multimask):
            logits, iou, _ = predictor.predict_torch(coords, labels, boxes, mask_input=mask_input,
                                                     multimask_output=multimask, return_logits=True)
            return logits, iou

        return decode_choice(run, rule, targets)

    def mask_generator(self, model, predictor, cfg):
        """The package's generator with the configuration's parameters, encoding through ``predictor``."""
        _, SamAutomaticMaskGenerator = _package()
        gen = SamAutomaticMaskGenerator(model, **generator_kwargs(cfg))
        gen.predictor = predictor
        return gen
