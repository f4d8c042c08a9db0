"""SAM 2.1 and HQ-SAM through samis equal each family's own stock predictor and generator.

The official checkpoints cannot be downloaded here, so each family's smallest variant is built with
seeded random weights, saved as a checkpoint in the authors' format and loaded through samis' real
path (shape check, pinning). On a real SD-saliency-900 image (200 x 200) and a real, non-square MT
image, samis' maps are compared with maps computed independently from the stock predictor, one prompt
at a time through its public ``predict``: box, point under every mask choice, and a previous mask as
input; and samis' automatic masks with the stock generator's at 8 x 8.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samis.datasets import get_dataset
from samis.errors import CheckpointError
from samis.prompts import ComponentPrompts, components

pytestmark = [pytest.mark.model, pytest.mark.slow]

FAMILIES = {"sam2": "sam2.1_hiera_tiny", "hq": "hq_vit_tiny"}


def _stock(family, model):
    if family == "sam2":
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        return SAM2ImagePredictor(model), SAM2AutomaticMaskGenerator
    from segment_anything_hq import SamAutomaticMaskGenerator, SamPredictor

    return SamPredictor(model), SamAutomaticMaskGenerator


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request, tmp_path_factory, monkeypatch_module):
    """(family, variant, model loaded by samis, checkpoint path): random weights saved in the authors' format."""
    from samis.backends import get_backend
    from samis.backends import hq as hq_backend
    from samis.backends import sam2 as sam2_backend

    fam = request.param
    name = FAMILIES[fam]
    cache = tmp_path_factory.mktemp(f"cache-{fam}")
    monkeypatch_module.setenv("SAMIS_CACHE_DIR", str(cache))
    torch.manual_seed(0)
    random_model = (sam2_backend if fam == "sam2" else hq_backend).build(name)
    ckpt = cache / "weights.pt"
    state = random_model.state_dict()
    torch.save({"model": state} if fam == "sam2" else state, ckpt)
    model, digest = get_backend(name).load(name, checkpoint=ckpt, device="cpu")
    return fam, name, model, digest, ckpt, cache


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def images(datasets_root):
    sd = get_dataset("sd900", root=datasets_root, split="test").samples()
    mt = get_dataset("mt", root=datasets_root, split="defective").samples()
    picks = [next(s for s in sd if s.stem == "Sc_61"), next(s for s in mt if s.category == "Blowhole")]
    out = [(s.stem, *s.load()) for s in picks]
    assert out[1][1].shape[0] != out[1][1].shape[1]  # MT: not square
    return out


def _rule_index(logits: np.ndarray, iou: np.ndarray, rule) -> int:
    """The mask a rule keeps, written out independently of samis.runners.maps.choose."""
    if logits.shape[0] == 1:
        return 0
    if isinstance(rule, int):
        return rule
    if rule == "highest_iou":
        return int(np.argmax(iou))
    areas = [int((m > 0).sum()) for m in logits]
    target = max(areas) if rule == "largest" else min(areas)
    return areas.index(target)  # ties: the lower index


def _oracle_index(logits: np.ndarray, comp: np.ndarray) -> int:
    """The mask with the highest IoU against the component (ties: the lower index)."""
    ious = [((m > 0) & comp).sum() / ((m > 0) | comp).sum() for m in logits]
    return int(np.argmax(ious))


def _stock_map(stock, prompts, rule, mask_input=None, comps=None):
    """One prompt at a time through the stock predictor's public predict(), merged as samis documents it.

    The stock predictor's image must be set. ``oracle`` asks for the one-mask output and the three
    multimask outputs and keeps the best for the prompt's component (``comps``).
    """
    best = None
    for i in range(len(prompts)):
        kw = {}
        if prompts.boxes is not None:
            kw["box"] = prompts.boxes[i]
        if prompts.point_coords is not None:
            kw["point_coords"], kw["point_labels"] = prompts.point_coords[i], prompts.point_labels[i]
        if mask_input is not None:
            kw["mask_input"] = mask_input[i]
        if rule == "oracle":
            logits = np.concatenate([stock.predict(multimask_output=m, return_logits=True, **kw)[0] for m in (False, True)])
            chosen = logits[_oracle_index(logits, comps[i])].astype(np.float64)
        else:
            logits, iou, _ = stock.predict(multimask_output=rule != "single", return_logits=True, **kw)
            chosen = logits[_rule_index(logits, iou, rule)].astype(np.float64)
        best = chosen if best is None else np.maximum(best, chosen)
    return np.round(255.0 / (1.0 + np.exp(-best))).astype(np.uint8)


CASES = [("box", "single"), ("point", "highest_iou"), ("point", "single"), ("point", "largest"),
         ("point", "smallest"), ("point", 2), ("point", "oracle")]


def test_prompted_maps_equal_the_stock_predictor(family, images):
    """Box, and point under every mask choice (a fixed index and the ground-truth oracle too), on both images."""
    from samis.backends import get_backend

    fam, name, model, digest, _, cache = family
    backend = get_backend(name)
    predictor = backend.predictor(model, digest, cache_dir=cache)
    stock, _ = _stock(fam, model)
    for stem, image, gt in images:
        predictor.set_image(image)
        stock.set_image(image)
        for mode, rule in CASES:
            prompts = ComponentPrompts(use_box=mode == "box", n_points=0 if mode == "box" else 1)(gt, stem)
            comps = np.stack(components(gt))
            ours = torch.sigmoid(backend.decode(predictor, prompts, rule, targets=comps).double().amax(0)).numpy()
            ours = np.round(255.0 * ours).astype(np.uint8)
            theirs = _stock_map(stock, prompts, rule, comps=comps)
            diff = np.abs(ours.astype(int) - theirs.astype(int))
            assert diff.max() <= 1, (stem, mode, rule, diff.max())
            assert ((ours > 127) != (theirs > 127)).mean() <= 1e-4, (stem, mode, rule)
            assert 0 < (ours > 127).mean() < 1, (stem, mode, rule, "a map all one value would prove nothing")


def test_mask_input_and_the_embedding_cache(family, images):
    """A previous round's low-res logits as input equal the stock path; a cache hit gives the same maps."""
    from samis.backends import get_backend

    fam, name, model, digest, _, cache = family
    backend = get_backend(name)
    stock, _ = _stock(fam, model)
    stem, image, gt = images[1]
    prompts = ComponentPrompts(use_box=True, n_points=0)(gt, stem)
    stock.set_image(image)
    previous = np.stack([stock.predict(box=b, multimask_output=False, return_logits=True)[2] for b in prompts.boxes])
    fresh = backend.predictor(model, digest, cache_dir=cache / "fresh")
    fresh.set_image(image)
    ours = backend.decode(fresh, prompts, "single", mask_input=previous)
    again = backend.predictor(model, digest, cache_dir=cache / "fresh")
    again.set_image(image)
    assert (again.stats.hits, fresh.stats.misses) == (1, 1)
    assert torch.equal(backend.decode(again, prompts, "single", mask_input=previous), ours)
    theirs = _stock_map(stock, prompts, "single", mask_input=previous)
    ours8 = np.round(255.0 * torch.sigmoid(ours.double().amax(0)).numpy()).astype(np.uint8)
    assert np.abs(ours8.astype(int) - theirs.astype(int)).max() <= 1


def test_automatic_masks_equal_the_stock_generator(family, images, tmp_path):
    """samis' runner (cache, records -> MaskSet) keeps exactly the stock generator's masks at 8 x 8."""
    from samis.backends import get_backend
    from samis.runners.config import normalize
    from samis.runners.runner import RunModel
    from samis.runners.automatic import AutomaticRunner

    fam, name, model, digest, _, _ = family
    _, Generator = _stock(fam, model)
    cfg = normalize({"mode": "automatic", "points_per_side": 8, "pred_iou_thresh": 0.0,
                     "stability_score_thresh": 0.0, "generator": "stock"})
    runner = AutomaticRunner(RunModel(get_backend(name), model, digest, cache_dir=tmp_path))
    for stem, image, _ in images:
        ours = runner.masks(image, cfg, cfg.main_pair)
        stock = Generator(model, points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                          output_mode="binary_mask").generate(image)
        theirs = sorted((r["segmentation"] for r in stock), key=lambda m: (-int(m.sum()), m.tobytes()))
        mine = sorted(ours.masks, key=lambda m: (-int(m.sum()), m.tobytes()))
        assert len(theirs) > 0, (stem, "no mask at all would prove nothing")
        assert len(mine) == len(theirs), (stem, len(mine), len(theirs))
        for a, b in zip(mine, theirs):
            assert np.array_equal(a, b), stem


def test_wrong_checkpoints_are_refused(family, tmp_path, monkeypatch):
    from samis.backends import get_backend
    from samis.models import pinned

    fam, name, model, digest, ckpt, _ = family
    backend = get_backend(name)
    other = "hq_vit_tiny" if fam == "sam2" else "sam2.1_hiera_tiny"
    with pytest.raises(CheckpointError, match=rf"is a {name} checkpoint, not {other}: use it as model {name}"):
        get_backend(other).load(other, checkpoint=ckpt, device="cpu")
    # the pinned file is the one first used: a different file of the right shape is refused ...
    state = {k: v.clone() for k, v in model.state_dict().items()}
    first = next(iter(state))
    state[first] += 1
    changed = tmp_path / "changed.pt"
    torch.save({"model": state} if fam == "sam2" else state, changed)
    assert pinned.pinned_md5(name) == digest
    with pytest.raises(CheckpointError, match=rf"is not the {name} checkpoint first used here.*samis models forget {name}"):
        backend.load(name, checkpoint=changed, device="cpu")
    # ... a truncated one too, and a missing one names where to get it
    cut = tmp_path / "cut.pt"
    cut.write_bytes(ckpt.read_bytes()[:1000])
    assert pinned.forget(name)
    with pytest.raises(CheckpointError, match="cannot be read as a PyTorch checkpoint"):
        backend.load(name, checkpoint=cut, device="cpu")
    with pytest.raises(CheckpointError, match=r"weights not found at .*download https://"):
        backend.load(name, checkpoint=tmp_path / "nothing.pt", device="cpu")
    assert pinned.pinned_md5(name) is None  # nothing was pinned by the refused files
    backend.load(name, checkpoint=ckpt, device="cpu")
    assert pinned.pinned_md5(name) == digest


def test_runs_shard_and_resume_like_sam1(family, datasets_root, tmp_path):
    """Through the engine: two shards write exactly one run's maps (box, automatic), a rerun skips them all."""
    from samis.runners import predict_many

    fam, name, model, digest, _, cache = family
    ds = get_dataset("sd900", root=datasets_root, split="test")
    picks = [s for s in ds.samples() if s.stem in ("Sc_61", "In_61")]

    class Two:
        name, split, root = ds.name, ds.split, ds.root

        def samples(self):
            return list(picks)

    modes = [{"mode": "box"}, {"mode": "automatic", "points_per_side": 4, "pred_iou_thresh": 0.0,
                               "stability_score_thresh": 0.0, "policy": "union"}]
    kw = dict(model=(model, digest), cache_dir=cache, progress=False)
    predict_many(Two(), name, modes, tmp_path / "whole", **kw)
    for i in range(2):
        predict_many(Two(), name, modes, tmp_path / "split", shard=(i, 2), **kw)
    whole = {p.relative_to(tmp_path / "whole"): p.read_bytes() for p in (tmp_path / "whole").rglob("*.png")}
    split = {p.relative_to(tmp_path / "split"): p.read_bytes() for p in (tmp_path / "split").rglob("*.png")}
    assert len(whole) == 4 and whole == split
    assert all(str(k).startswith(f"SAM-{name}-") for k in whole)
    again = predict_many(Two(), name, modes, tmp_path / "whole", **kw)
    assert again.images == 0 and all(m.skipped == 2 for m in again.methods.values())
