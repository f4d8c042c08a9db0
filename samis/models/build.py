"""Build a SAM variant's architecture (untrained) with segment-anything's own modules.

Every variant, vit_t included, is a ``segment_anything.modeling.Sam``, so ``SamPredictor`` and
``SamAutomaticMaskGenerator`` run them all through the same code path.
"""

from __future__ import annotations

import warnings

import torch
from segment_anything.build_sam import sam_model_registry
from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

from samis.models.registry import get_spec

PIXEL_MEAN = [123.675, 116.28, 103.53]
PIXEL_STD = [58.395, 57.12, 57.375]


def build_vit_t() -> Sam:
    """MobileSAM's ``build_sam_vit_t``, with segment-anything's Sam, prompt encoder and mask decoder."""
    with warnings.catch_warnings():  # mobile_sam imports deprecated timm paths and re-registers names
        warnings.simplefilter("ignore")
        from mobile_sam.modeling import TinyViT

    prompt_embed_dim, image_size, patch = 256, 1024, 16
    grid = image_size // patch
    return Sam(
        image_encoder=TinyViT(
            img_size=1024, in_chans=3, num_classes=1000,
            embed_dims=[64, 128, 160, 320], depths=[2, 2, 6, 2], num_heads=[2, 4, 5, 10],
            window_sizes=[7, 7, 14, 7], mlp_ratio=4.0, drop_rate=0.0, drop_path_rate=0.0,
            use_checkpoint=False, mbconv_expand_ratio=4.0, local_conv_size=3, layer_lr_decay=0.8,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=prompt_embed_dim, mlp_dim=2048, num_heads=8),
            transformer_dim=prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=PIXEL_MEAN,
        pixel_std=PIXEL_STD,
    )


def build_model(name: str) -> Sam:
    """The untrained architecture of ``name``; weights are loaded by ``samis.models.load_sam``."""
    get_spec(name)
    if name == "vit_t":
        return build_vit_t()
    return sam_model_registry[name](checkpoint=None)


def expected_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """State-dict key -> shape of ``name``; the large ViTs are built on the meta device (no init time)."""
    if name == "vit_t":
        model = build_vit_t()  # small; TinyViT's constructor cannot run on the meta device
    else:
        with torch.device("meta"):
            model = build_model(name)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}
