"""Prompts from ground truth on constructed masks: counts, minimum area, interior point, jitter, negatives."""

from __future__ import annotations

import numpy as np
import pytest

from samis.prompts import (
    PAD_LABEL,
    component_box,
    components,
    image_rng,
    interior_point,
    jitter_box,
    make_prompts,
)


def _mask():
    m = np.zeros((60, 80), dtype=bool)
    m[5:15, 5:25] = True          # 200 px rectangle
    m[30:33, 40:43] = True        # 9 px square
    m[33, 43] = True              # diagonal neighbour: same 8-connected component (10 px)
    m[50:58, 60:62] = True        # 16 px bar
    return m


def test_components_are_8_connected_and_min_area_drops_small_ones():
    m = _mask()
    assert len(components(m)) == 3
    assert [c.sum() for c in components(m)] == [200, 10, 16]
    assert [c.sum() for c in components(m, min_area=11)] == [200, 16]
    assert components(m, min_area=201) == []


def test_box_is_tight_with_inclusive_maxima():
    comp = components(_mask())[0]
    assert component_box(comp).tolist() == [5, 5, 24, 14]


def test_interior_point_is_the_deepest_pixel_and_deterministic():
    m = np.zeros((40, 40), dtype=bool)
    m[10:31, 5:16] = True  # 21 x 11: deepest pixels on the vertical mid-line, centroid at (x=10, y=20)
    assert interior_point(m).tolist() == [10, 20]
    ring = np.zeros((41, 41), dtype=bool)
    yy, xx = np.mgrid[:41, :41]
    ring[((yy - 20) ** 2 + (xx - 20) ** 2 <= 15**2) & ((yy - 20) ** 2 + (xx - 20) ** 2 >= 8**2)] = True
    p = interior_point(ring)
    assert ring[int(p[1]), int(p[0])]  # inside the component even though its centroid is not
    assert interior_point(ring).tolist() == p.tolist()


def test_jitter_is_bounded_clipped_and_seeded():
    box = np.array([10.0, 20.0, 29.0, 59.0])  # 20 wide, 40 high
    outs = np.array([jitter_box(box, 0.1, (64, 64), image_rng(s, "x")) for s in range(200)])
    d = np.abs(outs - box)
    assert d[:, [0, 2]].max() <= 2.0 + 1e-9 and d[:, [1, 3]].max() <= 4.0 + 1e-9
    assert d.max() > 1.0  # it does move
    assert outs[:, 3].max() <= 63  # clipped to the image
    assert np.array_equal(jitter_box(box, 0.1, (64, 64), image_rng(3, "a")),
                          jitter_box(box, 0.1, (64, 64), image_rng(3, "a")))
    assert not np.array_equal(jitter_box(box, 0.1, (64, 64), image_rng(3, "a")),
                              jitter_box(box, 0.1, (64, 64), image_rng(3, "b")))
    assert np.array_equal(jitter_box(box, 0.0, (64, 64), image_rng(0, "a")), box)


def test_point_prompts_positive_inside_negative_in_the_ring_outside_all_gt():
    m = _mask()
    p = make_prompts(m, use_box=False, n_points=3, n_negative=4, neg_ring=(2, 8), rng=image_rng(0, "s"))
    assert p.boxes is None and p.point_coords.shape == (3, 7, 2) and len(p) == 3
    comps = components(m)
    from scipy import ndimage

    for comp, xy, lab in zip(comps, p.point_coords, p.point_labels):
        pos = xy[lab == 1].astype(int)
        neg = xy[lab == 0].astype(int)
        assert len(pos) == 3 and len(neg) == 4
        assert comp[pos[:, 1], pos[:, 0]].all()
        assert len({tuple(v) for v in pos}) == 3  # distinct points
        assert not m[neg[:, 1], neg[:, 0]].any()
        dist = ndimage.distance_transform_edt(~comp)[neg[:, 1], neg[:, 0]]
        assert (dist > 2).all() and (dist <= 8).all()
        assert pos[0].tolist() == interior_point(comp).astype(int).tolist()


def test_tiny_component_pads_points_with_the_not_a_point_label():
    m = np.zeros((20, 20), dtype=bool)
    m[5, 5] = True
    p = make_prompts(m, use_box=True, n_points=3, rng=image_rng(0, "t"))
    assert p.point_labels.tolist() == [[1, PAD_LABEL, PAD_LABEL]]
    assert p.boxes.tolist() == [[5, 5, 5, 5]]


def test_prompts_do_not_depend_on_order_and_empty_mask_gives_none():
    m = _mask()
    a = make_prompts(m, use_box=True, n_points=2, jitter=0.2, rng=image_rng(7, "In_1"))
    make_prompts(m, use_box=True, n_points=2, jitter=0.2, rng=image_rng(7, "Pa_2"))  # another image between
    b = make_prompts(m, use_box=True, n_points=2, jitter=0.2, rng=image_rng(7, "In_1"))
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.point_coords, b.point_coords)
    e = make_prompts(np.zeros((10, 10), bool), use_box=True, n_points=1, rng=image_rng(0, "e"))
    assert len(e) == 0 and e.boxes is None and e.point_coords is None


def test_components_rejects_non_2d():
    with pytest.raises(ValueError):
        components(np.zeros((2, 3, 4), bool))
