"""Bad images and masks, missing partners and awkward paths: through the adapters and `samis datasets check`.

Every case works on copies of real SD-saliency-900 files (or on generated files) under a data root
whose path has spaces and non-ASCII characters. A case ends either in the correct arrays or in a
``DataError`` / one ``error:`` line (exit 2, no traceback) that names the file and the fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samis.datasets import get_dataset
from samis.errors import DataError
from samis.imageio import read_gray, read_rgb

from .conftest import assert_clean_error, assert_ok, samis_cli

IMG = "Source Images"
GT = "Ground truth"
FIX_WORDS = ("re-export", "remove", "restore", "rename", "convert")


# --- how each bad case is made (on the copy), and what the error must name --------------------------


def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def truncated_image(root: Path) -> tuple[str, ...]:
    _truncate(root / IMG / "In_2.bmp")
    return ("In_2.bmp",)


def truncated_mask(root: Path) -> tuple[str, ...]:
    _truncate(root / GT / "Pa_1.png")
    return ("Pa_1.png",)


def not_an_image(root: Path) -> tuple[str, ...]:
    (root / IMG / "In_2.bmp").write_text("this is a text file someone saved with an image's name\n")
    return ("In_2.bmp",)


def zero_byte_mask(root: Path) -> tuple[str, ...]:
    (root / GT / "Sc_1.png").write_bytes(b"")
    return ("Sc_1.png",)


def zero_byte_image(root: Path) -> tuple[str, ...]:
    (root / IMG / "Sc_1.bmp").write_bytes(b"")
    return ("Sc_1.bmp",)


def mask_other_size(root: Path) -> tuple[str, ...]:
    mask = Image.open(root / GT / "Pa_1.png")
    mask.resize((100, 120), Image.NEAREST).save(root / GT / "Pa_1.png")
    return ("Pa_1.png", "Pa_1.bmp", "100x120", "200x200")


def image_without_mask(root: Path) -> tuple[str, ...]:
    (root / GT / "Pa_1.png").unlink()
    return ("Pa_1",)


def mask_without_image(root: Path) -> tuple[str, ...]:
    (root / IMG / "Sc_1.bmp").unlink()
    return ("Sc_1",)


# fails at listing time (samples()) or at decoding time (load())
LISTING = [image_without_mask, mask_without_image]
DECODING = [truncated_image, truncated_mask, not_an_image, zero_byte_mask, zero_byte_image, mask_other_size]


@pytest.mark.parametrize("make", DECODING, ids=lambda f: f.__name__)
def test_bad_file_adapter_raises_named_dataerror(sd900_copy, make):
    names = make(sd900_copy)
    samples = get_dataset("sd900", root=sd900_copy.parent).samples()
    assert len(samples) == 4
    failed = []
    for sample in samples:
        try:
            image, mask = sample.load()
        except DataError as exc:
            failed.append(str(exc))
            continue
        assert image.shape == (200, 200, 3) and mask.shape == (200, 200)
    assert len(failed) == 1, failed  # exactly the broken sample fails, the others still load
    msg = failed[0]
    for name in names:
        assert name in msg, msg
    assert str(sd900_copy) in msg, f"full path (spaces, non-ASCII) not in {msg}"
    assert any(w in msg.lower() for w in FIX_WORDS), msg


@pytest.mark.parametrize("make", LISTING, ids=lambda f: f.__name__)
def test_missing_partner_adapter_raises_named_dataerror(sd900_copy, make):
    names = make(sd900_copy)
    with pytest.raises(DataError) as info:
        get_dataset("sd900", root=sd900_copy.parent).samples()
    msg = str(info.value)
    for name in names:
        assert name in msg, msg
    assert str(sd900_copy) in msg
    assert any(w in msg.lower() for w in FIX_WORDS + ("expected",)), msg


@pytest.mark.parametrize("make", DECODING + LISTING, ids=lambda f: f.__name__)
def test_bad_file_cli_check_one_clear_error(sd900_copy, make):
    names = make(sd900_copy)
    proc = samis_cli("datasets", "check", "sd900", "--data-root", sd900_copy.parent, "--no-progress")
    assert_clean_error(proc, *names, fix=FIX_WORDS + ("expected",))


def test_missing_partner_found_by_quick_check(sd900_copy):
    image_without_mask(sd900_copy)
    proc = samis_cli("datasets", "check", "sd900", "--data-root", sd900_copy.parent, "--quick")
    assert_clean_error(proc, "Pa_1", str(sd900_copy / GT / "Pa_1.png"))


# --- inputs that are unusual but valid: the correct arrays, not an error ------------------------------


def test_awkward_path_and_spaces_in_folder_names_work(sd900_copy):
    assert " " in IMG and " " in str(sd900_copy.parent)
    samples = get_dataset("sd900", root=sd900_copy.parent).samples()
    assert [s.stem for s in samples] == ["In_1", "In_2", "Pa_1", "Sc_1"]
    image, mask = samples[0].load()
    expected = np.asarray(Image.open(sd900_copy / IMG / "In_1.bmp").convert("L"))
    assert (image[:, :, 0] == expected).all() and mask.any()
    proc = samis_cli("datasets", "check", "sd900", "--data-root", sd900_copy.parent, "--no-progress")
    out = assert_ok(proc)
    assert str(sd900_copy) in out and "all 4 samples decode" in out


def test_16bit_image_and_mask_read_as_their_8bit_values(sd900_copy):
    gray = np.asarray(Image.open(sd900_copy / IMG / "In_1.bmp").convert("L"))
    gt = np.asarray(Image.open(sd900_copy / GT / "In_1.png").convert("L"))
    (sd900_copy / IMG / "In_1.bmp").unlink()
    Image.fromarray(gray.astype(np.uint16) * 257).save(sd900_copy / IMG / "In_1.png")  # any suffix is accepted
    Image.fromarray(gt.astype(np.uint16) * 257).save(sd900_copy / GT / "In_1.png")
    assert Image.open(sd900_copy / IMG / "In_1.png").mode.startswith("I;16")
    image, mask = get_dataset("sd900", root=sd900_copy.parent).samples()[0].load()
    assert (image == gray[:, :, None]).all()
    assert (mask == (gt > 128)).all() and mask.any()
    assert_ok(samis_cli("datasets", "check", "sd900", "--data-root", sd900_copy.parent, "--no-progress"))


def test_16bit_image_with_full_range_is_rescaled_not_clipped(tmp_path):
    ramp = (np.arange(256 * 4, dtype=np.uint32).reshape(16, 64) * 64).astype(np.uint16)  # 0..65472
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    got = read_gray(tmp_path / "ramp16.png")
    assert got.dtype == np.uint8
    assert (got == np.round(ramp / 257.0).astype(np.uint8)).all()
    assert got.max() > 250 and len(np.unique(got)) > 200  # not clipped to 255, not collapsed


def test_rgb_mask_is_read_as_its_luminance(sd900_copy):
    gt = np.asarray(Image.open(sd900_copy / GT / "In_2.png").convert("L"))
    Image.fromarray(np.repeat(gt[:, :, None], 3, axis=2)).save(sd900_copy / GT / "In_2.png")
    assert Image.open(sd900_copy / GT / "In_2.png").mode == "RGB"
    sample = get_dataset("sd900", root=sd900_copy.parent).samples()[1]
    assert sample.stem == "In_2"
    assert (sample.load_mask() == (gt > 128)).all()


def test_rgb_image_gives_three_channels(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    assert (read_rgb(tmp_path / "c.png") == rgb).all()
    lum = np.asarray(Image.fromarray(rgb).convert("L"))
    assert (read_gray(tmp_path / "c.png") == lum).all()


def test_bmp_mask_and_jpeg_image_are_accepted(sd900_copy):
    gt = Image.open(sd900_copy / GT / "Sc_1.png")
    (sd900_copy / GT / "Sc_1.png").unlink()
    gt.save(sd900_copy / GT / "Sc_1.bmp")
    samples = get_dataset("sd900", root=sd900_copy.parent).samples()
    assert (samples[3].load_mask() == (np.asarray(gt) > 128)).all()


def test_two_files_one_stem_is_an_error(sd900_copy):
    shutil.copy(sd900_copy / IMG / "In_1.bmp", sd900_copy / IMG / "In_1.png")
    with pytest.raises(DataError, match="In_1"):
        get_dataset("sd900", root=sd900_copy.parent).samples()
    proc = samis_cli("datasets", "check", "sd900", "--data-root", sd900_copy.parent, "--quick")
    assert_clean_error(proc, "In_1.bmp", "In_1.png", fix=("keep one",))


# --- a user's own folder set: spaces and non-ASCII in file names, label masks -------------------------


def _folder_set(root: Path, datasets_root: Path, stems: dict[str, str]) -> Path:
    """images/<new stem>.bmp + masks/<new stem>.png from real SD-900 files; ``stems``: new -> SD-900 stem."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir(parents=True)
    src = datasets_root / "SD-saliency-900"
    for new, old in stems.items():
        shutil.copy2(src / IMG / f"{old}.bmp", root / "images" / f"{new}.bmp")
        shutil.copy2(src / GT / f"{old}.png", root / "masks" / f"{new}.png")
    return root


def test_folder_set_with_spaces_and_non_ascii_stems(datasets_root, awkward_root):
    root = _folder_set(awkward_root / "my set", datasets_root, {"défaut 01": "In_1", "défaut 02 ü": "Pa_1"})
    samples = get_dataset("folder", root=root).samples()
    assert [s.stem for s in samples] == ["défaut 01", "défaut 02 ü"]
    for s in samples:
        image, mask = s.load()
        assert image.shape == (200, 200, 3) and mask.any()
    out = assert_ok(samis_cli("datasets", "check", "folder", "--data-root", root, "--no-progress"))
    assert "all 2 samples decode" in out


def test_folder_set_colour_label_mask_is_not_silently_empty(datasets_root, tmp_path):
    """A mask drawn in pure red on black (RGB, not a palette) must give that region, or a clear error.

    Read as luminance (0.299 * 255 = 76 < 127) it would silently become an empty ground truth and
    every score on that image would be wrong.
    """
    root = _folder_set(tmp_path / "set", datasets_root, {"a": "In_1"})
    gt = np.asarray(Image.open(root / "masks" / "a.png").convert("L")) > 128
    red = np.zeros(gt.shape + (3,), np.uint8)
    red[gt] = (255, 0, 0)
    Image.fromarray(red).save(root / "masks" / "a.png")
    sample = get_dataset("folder", root=root).samples()[0]
    try:
        mask = sample.load_mask()
    except DataError as exc:
        assert "a.png" in str(exc)
        return
    assert (mask == gt).all(), f"colour label mask read as {int(mask.sum())} foreground pixels, expected {int(gt.sum())}"


def test_folder_set_01_label_and_palette_masks(datasets_root, tmp_path):
    root = _folder_set(tmp_path / "set", datasets_root, {"lab": "In_1", "pal": "Pa_1"})
    gt_lab = np.asarray(Image.open(root / "masks" / "lab.png").convert("L")) > 128
    gt_pal = np.asarray(Image.open(root / "masks" / "pal.png").convert("L")) > 128
    Image.fromarray(gt_lab.astype(np.uint8)).save(root / "masks" / "lab.png")  # 0/1 labels
    pal = Image.fromarray(gt_pal.astype(np.uint8), mode="P")
    pal.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)  # VOC-style dark red
    pal.save(root / "masks" / "pal.png")
    lab, palm = get_dataset("folder", root=root).samples()
    assert (lab.load_mask() == gt_lab).all() and (palm.load_mask() == gt_pal).all()


# --- roots that are not there ---------------------------------------------------------------------------


def test_missing_data_root_cli(tmp_path):
    missing = tmp_path / "no such root ü"
    proc = samis_cli("datasets", "check", "sd900", "--data-root", missing)
    assert_clean_error(proc, str(missing), fix=("root",))


def test_no_data_root_at_all_cli():
    proc = samis_cli("datasets", "check", "sd900")
    assert_clean_error(proc, "SAMIS_DATA_ROOT", fix=("--data-root",))


def test_data_root_is_a_file_cli(tmp_path):
    f = tmp_path / "root.txt"
    f.write_text("x")
    proc = samis_cli("datasets", "check", "sd900", "--data-root", f)
    assert_clean_error(proc, str(f))


def test_unknown_dataset_and_split_cli(sd900_copy):
    assert_clean_error(samis_cli("datasets", "check", "sd901", "--data-root", sd900_copy.parent), "sd901", fix=("sd900",))
    assert_clean_error(
        samis_cli("datasets", "check", "sd900", "--split", "tset", "--data-root", sd900_copy.parent), "tset", fix=("test",)
    )


# --- the same broken inputs through `samis evaluate` (default worker pool) ------------------------------

EVAL_CASES = [truncated_mask, not_an_image, zero_byte_mask, mask_other_size, image_without_mask, mask_without_image]


@pytest.mark.parametrize("make", EVAL_CASES, ids=lambda f: f.__name__)
def test_bad_file_cli_evaluate_one_clear_error(sd900_copy, sd900_baselines, awkward_root, make):
    from .conftest import baseline_copy

    preds = baseline_copy(sd900_baselines, awkward_root / "maps", ("RCRR",))
    names = make(sd900_copy)
    out = awkward_root / "res.csv"
    proc = samis_cli("evaluate", "--dataset", "sd900", "--data-root", sd900_copy.parent, "--predictions", preds,
                     "--protocol", "steel", "--out", out, "--no-progress", "--jobs", "2")
    assert_clean_error(proc, *names, fix=FIX_WORDS + ("expected",))
    assert not out.exists()  # no results from a set that could not be read


def test_truncated_image_does_not_matter_to_evaluation(sd900_copy, sd900_baselines, awkward_root):
    """Evaluation reads masks and maps only; a truncated image (header intact) is caught by `datasets check`."""
    from samis.evaluation import evaluate

    from .conftest import baseline_copy

    preds = baseline_copy(sd900_baselines, awkward_root / "maps", ("RCRR",))
    ds = get_dataset("sd900", root=sd900_copy.parent)
    before = evaluate(ds, preds, "steel", jobs=1, progress=False)
    truncated_image(sd900_copy)
    after = evaluate(get_dataset("sd900", root=sd900_copy.parent), preds, "steel", jobs=1, progress=False)
    assert before.equals(after)


# --- more unusual files: oversized headers, 1-bit, palette, CMYK, grey+alpha ------------------------------


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height (no pixel data): what a decompression bomb looks like."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def test_oversized_image_is_a_named_error_not_a_traceback(sd900_copy):
    (sd900_copy / IMG / "Sc_1.bmp").unlink()
    _png_header_only(sd900_copy / IMG / "Sc_1.png", 20000, 20000)
    sample = get_dataset("sd900", root=sd900_copy.parent).samples()[3]
    with pytest.raises(DataError, match="Sc_1.png"):
        sample.load()
    with pytest.raises(DataError, match="Sc_1.png"):
        sample.load_mask()  # reads the image's header for its size
    proc = samis_cli("datasets", "check", "sd900", "--data-root", sd900_copy.parent, "--no-progress")
    assert_clean_error(proc, "Sc_1.png", fix=FIX_WORDS)


def test_one_bit_mask_palette_image_cmyk_and_grey_alpha(sd900_copy):
    gray = np.asarray(Image.open(sd900_copy / IMG / "In_1.bmp").convert("L"))
    gt = np.asarray(Image.open(sd900_copy / GT / "In_1.png").convert("L")) > 128
    Image.fromarray(gt).convert("1").save(sd900_copy / GT / "In_1.png")
    assert Image.open(sd900_copy / GT / "In_1.png").mode == "1"
    (sd900_copy / IMG / "In_1.bmp").unlink()
    Image.fromarray(gray).convert("P").save(sd900_copy / IMG / "In_1.png")  # palette greyscale image
    la = Image.fromarray(np.dstack([gray, np.full_like(gray, 255)]), mode="LA")
    (sd900_copy / IMG / "In_2.bmp").unlink()
    la.save(sd900_copy / IMG / "In_2.png")
    cmyk = Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2)).convert("CMYK")
    (sd900_copy / IMG / "Pa_1.bmp").unlink()
    cmyk.save(sd900_copy / IMG / "Pa_1.jpg", quality=95)
    s = get_dataset("sd900", root=sd900_copy.parent).samples()
    image, mask = s[0].load()
    assert (mask == gt).all() and (image == gray[:, :, None]).all()
    assert (s[1].load_image() == gray[:, :, None]).all()
    pa = s[2].load_image()
    assert pa.shape == (200, 200, 3) and pa.dtype == np.uint8
    assert np.abs(pa.astype(int) - gray[:, :, None]).mean() < 3  # a CMYK JPEG, converted, not garbage
    assert_ok(samis_cli("datasets", "check", "sd900", "--data-root", sd900_copy.parent, "--no-progress"))
