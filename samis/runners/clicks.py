"""Corrective clicks (``mode: clicks``) and the annotation protocol (``mode: annotate``).

Every ground-truth component starts from its box or its interior-most point (the prompts of box and
point mode, decoded the same way, so the map after one click is box or point mode's map); then, while
it is below ``stop_iou`` (``target``), it gets one click per round at the deepest pixel of its larger
error (``samis.clicks``), every earlier click kept and, with ``use_logits``, its previous low-res
logits as ``mask_input``. All active components of an image go to the decoder in one batched call per
round, from the image's cached embedding.

Clicks mode stores the map after each click count of ``save_at`` as its own method and writes the IoU
of every component (and of the whole image) after every click to ``<out>/<sequence>.clicks.csv``.
Annotate mode stores the accepted annotation: the masks thresholded at ``threshold``, merged, and
smoothed by a morphological opening then closing with a disk of ``radius`` (scikit-image); its CSV
(``<out>/<method>.annotate.csv``) has the corrective clicks each defect cost and its IoU before and
after the smoothing. Both CSVs go through ``samis.runners.records`` (resume-safe, byte-stable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from samis.clicks import Click, component_iou, next_click
from samis.errors import ConfigError
from samis.prompts import ComponentPrompts, Prompts, components
from samis.runners.config import AnnotateConfig, ClicksConfig
from samis.runners.maps import empty_map, soft_map
from samis.runners.records import RecordStore
from samis.runners.runner import ImageFrame, RunModel

CLICK_COLUMNS = ["level", "stem", "category", "component", "area", "click", "prompt", "x", "y", "iou"]
ANNOTATE_COLUMNS = ["level", "stem", "category", "component", "area", "corrective_clicks", "reached_target",
                    "iou_before", "iou_after"]


def image_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    union = np.count_nonzero(pred | gt)
    return np.count_nonzero(pred & gt) / union if union else 1.0


@dataclass
class ClickSequence:
    """What one image's click sequence gives: per component and click count, the IoU and the click."""

    comps: list
    iou: np.ndarray  # components x max_clicks: component IoU after each click count
    image_iou: np.ndarray  # max_clicks: IoU of the merged masks with the whole ground truth
    prompts: list  # per component, per click count: "box", a Click, or None (no click: stopped)
    used: np.ndarray  # per component: the click count of its last prompt
    logits: torch.Tensor  # components x H x W: each component's logits after its last prompt
    maps: dict = field(default_factory=dict)  # saved click count -> soft map


def click_sequence(backend, predictor, gt: np.ndarray, cfg, stem: str, save_at=()) -> ClickSequence | None:
    """Run the clicks of one image (predictor's image set); None when the ground truth is empty."""
    comps = components(gt, cfg.min_area)
    if not comps:
        return None
    gt = np.asarray(gt, dtype=bool)
    first = ComponentPrompts(use_box=cfg.uses_box, n_points=0 if cfg.uses_box else 1, min_area=cfg.min_area)(gt, stem)
    n, total = len(comps), cfg.max_clicks
    coords = [[] if first.point_coords is None else [tuple(first.point_coords[i, 0])] for i in range(n)]
    labels = [[] if first.point_coords is None else [1] for _ in range(n)]
    prompts = [["box" if cfg.uses_box else Click(int(coords[i][0][0]), int(coords[i][0][1]), True)] for i in range(n)]
    logits, low = backend.decode_low_res(predictor, first, cfg.first_rule, cfg.decoder)
    logits, low = logits.float(), low.float()
    iou, img_iou = np.zeros((n, total)), np.zeros(total)
    used = np.ones(n, dtype=int)
    active = np.ones(n, dtype=bool)
    maps = {}
    for count in range(1, total + 1):
        if count > 1 and active.any():
            idx = np.flatnonzero(active)
            batch = Prompts(boxes=None if first.boxes is None else first.boxes[idx],
                            point_coords=np.array([coords[i] for i in idx], dtype=np.float64),
                            point_labels=np.array([labels[i] for i in idx], dtype=np.int64))
            t_idx = torch.as_tensor(idx, device=logits.device)
            new, new_low = backend.decode_low_res(predictor, batch, "single", cfg.decoder,
                                                  mask_input=low[t_idx] if cfg.use_logits else None)
            logits[t_idx], low[t_idx] = new.float(), new_low.float()
            used[idx] = count
        pred = (logits > 0).cpu().numpy()
        for i, comp in enumerate(comps):
            iou[i, count - 1] = component_iou(pred[i], comp, gt)
        img_iou[count - 1] = image_iou(pred.any(0), gt)
        if count in save_at:
            maps[count] = soft_map(logits)
        for i in range(n):
            click = None
            if active[i] and iou[i, count - 1] < cfg.stop_at and count < total:
                click = next_click(pred[i], comps[i], gt)
            active[i] = click is not None
            if click is not None:
                coords[i].append((click.x, click.y))
                labels[i].append(click.label)
            if count < total:
                prompts[i].append(click)
    return ClickSequence(comps, iou, img_iou, prompts, used, logits, maps)


def _f(x: float) -> str:
    return f"{x:.6f}"


def click_rows(seq: ClickSequence, stem: str, category: str, gt: np.ndarray) -> list[list]:
    """The CSV rows of one image: every component after every click, then the whole image."""
    rows = []
    for i, comp in enumerate(seq.comps):
        area = int(comp.sum())
        for k, prompt in enumerate(seq.prompts[i]):
            kind, x, y = "", "", ""
            if prompt == "box":
                kind = "box"
            elif prompt is not None:
                kind = ("point" if k == 0 else "positive") if prompt.positive else "negative"
                x, y = prompt.x, prompt.y
            rows.append(["component", stem, category, i + 1, area, k + 1, kind, x, y, _f(seq.iou[i, k])])
    area = int(np.count_nonzero(gt))
    rows += [["image", stem, category, "", area, k + 1, "", "", "", _f(v)] for k, v in enumerate(seq.image_iou)]
    return rows


def smooth(mask: np.ndarray, radius: int) -> np.ndarray:
    """Morphological opening then closing with a disk of ``radius`` (scikit-image): the annotator's clean-up."""
    from skimage.morphology import binary_closing, binary_opening, disk

    if radius <= 0:
        return np.asarray(mask, dtype=bool)
    footprint = disk(radius)
    return binary_closing(binary_opening(mask, footprint), footprint)


class ClicksRunner:
    """Click sequences from the cached embedding; one sequence per image serves every saved click count."""

    header = CLICK_COLUMNS
    suffix = ".clicks.csv"

    def __init__(self, run_model: RunModel):
        self.run_model = run_model
        self.generated = 0
        self.stores: dict[str, RecordStore] = {}
        self._last = (None, None)

    def needs_ground_truth(self, cfg) -> bool:
        return True

    def attach(self, cfg, folder, overwrite: bool = False) -> None:
        """Open the record store of ``cfg``'s click sequence beside its method folder."""
        backend = self.run_model.backend
        if not hasattr(backend, "decode_low_res"):
            raise ConfigError(f"mode {cfg.mode} needs a backend that returns low-res logits (decode_low_res); "
                              f"{type(backend).__name__} does not: use a SAM 1 model (vit_t, vit_b, vit_l, vit_h)")
        key = cfg.trajectory_key
        if key not in self.stores:
            family = cfg.family_name(self.run_model.name)
            manifest = {"sequence": family, "config": cfg.map_options() | {"at": None, "save_at": None},
                        "model": self.run_model.name, "model_digest": self.run_model.digest}
            self.stores[key] = RecordStore(folder.parent, family, self.header, manifest, self.suffix, overwrite)

    def finish(self) -> None:
        for store in self.stores.values():
            store.consolidate()

    def sequence(self, frame: ImageFrame, cfg):
        """The click sequence of this image and configuration (computed once, its rows stored)."""
        key = (id(frame), frame.stem, cfg.trajectory_key)
        if self._last[0] != key:
            predictor = frame.embed(self.run_model.predictor(cfg.autocast))
            save_at = getattr(cfg, "save_at", ())
            seq = click_sequence(self.run_model.backend, predictor, frame.gt, cfg, frame.stem, save_at)
            result = self.finish_image(seq, frame, cfg, predictor)
            self._last = (key, result)
        return self._last[1]

    def finish_image(self, seq, frame, cfg, predictor):
        self._put(cfg, frame.stem, [] if seq is None else click_rows(seq, frame.stem, frame.category or "", frame.gt))
        return seq, predictor.original_size

    def _put(self, cfg, stem: str, rows: list) -> None:
        if cfg.trajectory_key in self.stores:  # attached by the engine (a bare runner keeps no rows)
            self.stores[cfg.trajectory_key].put(stem, rows)

    def map(self, frame: ImageFrame, cfg: ClicksConfig) -> tuple[np.ndarray, bool]:
        seq, size = self.sequence(frame, cfg)
        if seq is None:
            return empty_map(size), True
        return seq.maps[cfg.at if cfg.at is not None else max(cfg.save_at)], False


class AnnotateRunner(ClicksRunner):
    """Box, clicks until ``target`` IoU or ``max_clicks``, threshold, opening then closing: a binary map."""

    header = ANNOTATE_COLUMNS
    suffix = ".annotate.csv"

    def finish_image(self, seq, frame, cfg: AnnotateConfig, predictor):
        if seq is None:
            self._put(cfg, frame.stem, [])
            return None, predictor.original_size
        gt = np.asarray(frame.gt, dtype=bool)
        cut = math.log(cfg.threshold / (1.0 - cfg.threshold))  # probability > threshold <=> logit > cut
        before = (seq.logits > cut).any(0).cpu().numpy()
        after = smooth(before, cfg.radius)
        rows, cat = [], frame.category or ""
        spent = seq.used - 1  # clicks after the box
        reached = seq.iou[np.arange(len(seq.comps)), seq.used - 1] >= cfg.target
        for i, comp in enumerate(seq.comps):
            rows.append(["component", frame.stem, cat, i + 1, int(comp.sum()), int(spent[i]), int(reached[i]),
                         _f(component_iou(before, comp, gt)), _f(component_iou(after, comp, gt))])
        rows.append(["image", frame.stem, cat, "", int(gt.sum()), int(spent.sum()), int(reached.all()),
                     _f(image_iou(before, gt)), _f(image_iou(after, gt))])
        self._put(cfg, frame.stem, rows)
        return (after.astype(np.uint8) * 255), predictor.original_size

    def map(self, frame: ImageFrame, cfg: AnnotateConfig) -> tuple[np.ndarray, bool]:
        out, size = self.sequence(frame, cfg)
        return (empty_map(size), True) if out is None else (out, False)
