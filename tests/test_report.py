"""Tables, curves and figures from evaluation outputs (samis.report, `samis table`, `samis curves`).

Real numbers come from pysodmetrics on real SD-saliency-900 maps (RCRR, MCITF, CSEPNet); the
rendering tests use small frames whose best/second cells are known by construction.
"""

from __future__ import annotations

import io
import re
from collections import namedtuple

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from samis.cli import main
from samis.errors import ConfigError, DataError
from samis.report import figures, tables
from samis.report.categories import per_category
from samis.report.curves import plot_curves
from samis.report.figures import Example, category_bars, choose_examples, examples_from_samples, qualitative_grid
from samis.report.inputs import read_curves
from samis.report.plotstyle import method_styles
from samis.report.stats import mean_ci
from samis.report.style import format_value, is_sam, lower_is_better

STEMS = [f"{c}_{i}" for c in ("In", "Pa", "Sc") for i in (61, 62, 63, 64)]
REAL_METHODS = ("RCRR", "MCITF", "CSEPNet")


def run_cli(args, capsys):
    """(exit code, stdout, stderr) of `samis ARGS`."""
    try:
        main(list(map(str, args)))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- real evaluation files

@pytest.fixture(scope="module")
def real_eval(tmp_path_factory, datasets_root, sd900_baselines):
    """results CSV, per-image CSV and curves NPZ computed with pysodmetrics on 12 real SD900 test images."""
    import warnings

    import py_sod_metrics as M

    from samis.imageio import read_gray

    gt_dir = datasets_root / "SD-saliency-900" / "Ground truth"
    out = tmp_path_factory.mktemp("eval") / "sd900_test.csv"
    summary, per_image, curves = [], [], {"thresholds": np.arange(256)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in REAL_METHODS:
            fm = M.Fmeasure()
            rows = []
            for stem in STEMS:
                pred = read_gray(next((sd900_baselines / method).glob(stem + ".*")))
                gt = read_gray(gt_dir / f"{stem}.png")
                one = {k: cls() for k, cls in (("MAE", M.MAE), ("Sm", M.Smeasure), ("wF", M.WeightedFmeasure))}
                for obj in (fm, *one.values()):
                    obj.step(pred, gt)
                rows.append({"method": method, "dataset": "sd900", "split": "test", "stem": stem,
                                  "category": stem.split("_")[0], "MAE": one["MAE"].get_results()["mae"],
                                  "Sm": one["Sm"].get_results()["sm"], "wF": one["wF"].get_results()["wfm"]})
            per_image += rows
            r = fm.get_results()
            means = pd.DataFrame(rows)[["MAE", "Sm", "wF"]].mean()  # these three are per-image means
            summary.append({"method": method, "dataset": "sd900", "split": "test", "n_images": len(STEMS), **means,
                            "maxF": r["fm"]["curve"].max(), "meanF": r["fm"]["curve"].mean(), "adpF": r["fm"]["adp"]})
            # pysodmetrics stores threshold 255 first; the evaluator's NPZ has index i = threshold i
            curves[f"{method}::precision"] = np.flip(r["pr"]["p"])
            curves[f"{method}::recall"] = np.flip(r["pr"]["r"])
            curves[f"{method}::fmeasure"] = np.flip(r["fm"]["curve"])
            curves[f"{method}::emeasure"] = np.flip(r["fm"]["curve"]) * 0.9 + 0.05  # stand-in, drawn only with kinds=em
    pd.DataFrame(summary).to_csv(out, index=False)
    pd.DataFrame(per_image).to_csv(out.with_name("sd900_test.per_image.csv"), index=False)
    np.savez(out.with_name("sd900_test.curves.npz"), **curves)
    return out


def _cells(md: str, method: str) -> list[str]:
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| {method}"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def _header(md: str) -> list[str]:
    line = next(ln for ln in md.splitlines() if ln.startswith("| Method"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def test_real_results_table_marks_the_best_method_per_column(real_eval, capsys):
    res = pd.read_csv(real_eval)
    code, out, err = run_cli(["table", real_eval, "--format", "md"], capsys)
    assert code == 0, err
    header = _header(out)
    assert header[:3] == ["MAE↓", "Sm↑", "wF↑"]
    for j, metric in enumerate(["MAE", "Sm", "wF", "maxF"]):
        best = res.loc[res[metric].idxmin() if metric == "MAE" else res[metric].idxmax(), "method"]
        assert re.fullmatch(r"\*\*0\.\d{3}\*\*", _cells(out, best)[j]), (metric, best, out)
    # CSEPNet (a trained model) beats both traditional methods on every column of this set
    assert all(c.startswith("**") for c in _cells(out, "CSEPNet"))
    assert "Table: SD900-test" in out


# --------------------------------------------------------------------------- ranking and marks

def _frame(dataset="sd900", split="test", **cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"dataset": [dataset] * n, "split": [split] * n, "n_images": [360] * n, **cols})


@pytest.fixture
def two_sets():
    sd = _frame(method=["RCRR", "CSEPNet", "SAM-vit_t-box", "SAM-vit_t-oracle", "SAM-vit_t-point1"],
                WF=[0.2591, 0.80, 0.61, 0.95, 0.55], MAE=[0.2439, 0.020, 0.050, 0.010, 0.080],
                time_per_image_s=[0.30, 0.02, 0.50, 0.60, 0.45])
    mt = _frame("mt", "full", method=["RCRR", "SAM-vit_t-box", "SAM-vit_t-oracle", "SAM-vit_t-point1"],
                WF=[0.10, 0.40, 0.60, 0.30], MAE=[0.20, 0.05, 0.01, 0.07])
    return sd, mt


def test_best_bold_second_underlined_with_metric_direction(two_sets):
    md = tables.render(list(two_sets), "md")
    hdr = _header(md)
    assert hdr == ["SD900-test WF↑", "SD900-test MAE↓", "SD900-test s/img", "MT-full WF↑", "MT-full MAE↓"]
    # oracle has the best numbers everywhere but is daggered and never marked
    assert all(not c.startswith(("**", "<u>")) for c in _cells(md, "SAM-vit_t-oracle†"))
    assert _cells(md, "CSEPNet")[:2] == ["**0.800**", "**0.020**"]
    assert _cells(md, "SAM-vit_t-box")[:2] == ["<u>0.610</u>", "<u>0.050</u>"]
    # MAE lower is better on MT: box 0.05 best, point1 0.07 second
    assert _cells(md, "SAM-vit_t-box")[4] == "**0.050**"
    assert _cells(md, "SAM-vit_t-point1")[4] == "<u>0.070</u>"
    # time is shown, not ranked
    assert _cells(md, "CSEPNet")[2] == "0.020"
    assert "† Not ranked" in md


def test_missing_cells_are_dashes_never_zero_and_not_ranked(two_sets):
    md = tables.render(list(two_sets), "md")
    assert _cells(md, "CSEPNet")[3:] == ["–", "–"]
    tex = tables.render(list(two_sets), "latex", layout="wide")
    assert re.search(r"^CSEPNet & .* & -- & -- \\\\$", tex, re.M)


def test_latex_booktabs_groups_escapes_and_arrows(two_sets):
    tex = tables.render(list(two_sets), "latex", style="steel", caption="Zero-shot results", label="tab:zs", layout="wide")
    assert r"\multicolumn{3}{c}{SD900-test} & \multicolumn{2}{c}{MT-full}" in tex
    assert r"\cmidrule(lr){2-4} \cmidrule(lr){5-6}" in tex
    assert r"Method & WF$\uparrow$ & MAE$\downarrow$ & s/img & WF$\uparrow$ & MAE$\downarrow$ \\" in tex
    assert r"\textbf{.8000}" in tex and r"\underline{.6100}" in tex
    assert r"SAM-vit\_t-oracle$^\dagger$" in tex
    assert r"\caption{Zero-shot results}" in tex and r"\label{tab:zs}" in tex
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 1
    # every header and body row has one cell per column (6 columns: 5 separators; \& would not count)
    rows = [ln for ln in tex.splitlines() if ln.endswith(r"\\") and not ln.startswith(" & \\multicolumn")]
    assert rows and all(re.sub(r"\\&", "", ln).count("&") == 5 for ln in rows), rows
    # SAM rows come after the baselines, separated by a rule
    body = tex.split(r"\midrule", 1)[1]
    assert body.index("CSEPNet") < body.index(r"\midrule") < body.index("SAM-vit")


def test_bare_tabular_without_float():
    df = _frame(method=["A", "B"], WF=[0.5, 0.6])
    tex = tables.render(df, "latex", latex_env="none")
    assert tex.splitlines()[1].startswith(r"\begin{tabular}{lc}") and r"\begin{table}" not in tex


def test_ties_at_printed_precision_share_the_mark():
    df = _frame(method=["A", "B", "C", "D"], WF=[0.70004, 0.69996, 0.650, 0.640])
    md = tables.render(df, "md")  # both print 0.700
    assert _cells(md, "A") == ["**0.700**"] and _cells(md, "B") == ["**0.700**"]
    assert _cells(md, "C") == ["<u>0.650</u>"] and _cells(md, "D") == ["0.640"]


def test_steel_style_and_decimals():
    assert format_value(0.25914, 4, True) == ".2591"
    assert format_value(-0.00001, 3) == "0.000"
    assert format_value(float("nan")) == "–"
    df = _frame(method=["RCRR"], WF=[0.2591], OR=[0.2526], PFOM=[0.3267])
    assert _cells(tables.render(df, "md", style="steel"), "RCRR") == ["**.2591**", "**.2526**", "**.3267**"]
    assert _cells(tables.render(df, "md", decimals=2), "RCRR")[0] == "**0.26**"


def test_extra_columns_ranked_only_when_asked(two_sets):
    md = tables.render(list(two_sets), "md", rank=["time_per_image_s"], metrics=["WF", "time_per_image_s"])
    assert _header(md)[:2] == ["SD900-test WF↑", "SD900-test s/img↓"]
    assert _cells(md, "CSEPNet")[1] == "**0.020**" and _cells(md, "RCRR")[1] == "<u>0.300</u>"
    assert lower_is_better("time_per_image_s") and lower_is_better("MAE") and not lower_is_better("Sm")


def test_row_order_grouped_given_name_and_by_metric(two_sets):
    def order(**kw):
        return [ln.split("|")[1].strip() for ln in tables.render(list(two_sets), "md", **kw).splitlines()
                if ln.startswith("| ") and not ln.startswith("| Method")]

    sd = two_sets[0].copy()
    sd = sd.iloc[[2, 0, 3, 1, 4]]  # SAM rows interleaved with baselines
    rows = [ln.split("|")[1].strip() for ln in tables.render(sd, "md").splitlines() if ln.startswith("| ") and "Method" not in ln]
    assert rows == ["RCRR", "CSEPNet", "SAM-vit_t-box", "SAM-vit_t-oracle†", "SAM-vit_t-point1"]
    assert order(order="name")[0] == "CSEPNet"
    assert order(order="MT-full:MAE") == ["SAM-vit_t-oracle†", "SAM-vit_t-box", "SAM-vit_t-point1", "RCRR", "CSEPNet"]
    assert order(order="WF")[:2] == ["SAM-vit_t-oracle†", "CSEPNet"]
    with pytest.raises(ConfigError, match="--sort"):
        tables.render(list(two_sets), "md", order="nonsense")


def test_unranked_option_and_unknown_names(two_sets):
    md = tables.render(list(two_sets), "md", unranked=["CSEPNet"])
    assert _cells(md, "CSEPNet†")[0] == "0.800" and _cells(md, "SAM-vit_t-box")[0] == "**0.610**"
    with pytest.raises(ConfigError, match="no such method"):
        tables.render(list(two_sets), "md", unranked=["Nope"])
    with pytest.raises(ConfigError, match="not in the results"):
        tables.render(list(two_sets), "md", metrics=["maxF"])


def test_csv_is_the_tidy_merged_table(two_sets):
    text = tables.render(list(two_sets), "csv")
    df = pd.read_csv(pd.io.common.StringIO(text))
    assert list(df.columns) == ["method", "dataset", "split", "n_images", "WF", "MAE", "time_per_image_s"]
    assert len(df) == 9 and df.loc[0, "WF"] == pytest.approx(0.2591)  # full precision
    assert list(df["method"].drop_duplicates()) == ["RCRR", "CSEPNet", "SAM-vit_t-box", "SAM-vit_t-oracle", "SAM-vit_t-point1"]


def test_duplicate_results_are_refused(tmp_path, two_sets):
    p = tmp_path / "a.csv"
    two_sets[0].to_csv(p, index=False)
    with pytest.raises(DataError, match=r"a\.csv.*'RCRR'.*appears"):
        tables.render([p, p], "md")


def test_sam_rows_are_recognised():
    assert all(map(is_sam, ["SAM-vit_t-box", "HQ-SAM", "MobileSAM", "SAM-vit_h-auto-union-pps16"]))
    assert not any(map(is_sam, ["RCRR", "CSEPNet", "Samples", "2LSG"]))


# --------------------------------------------------------------------------- per category

def test_per_category_means_and_cli(real_eval, tmp_path, capsys):
    pi = pd.read_csv(real_eval.with_name("sd900_test.per_image.csv"))
    cat = per_category(pi)
    want = pi[(pi.method == "RCRR") & (pi.category == "Pa")]["MAE"].mean()
    got = cat[(cat.method == "RCRR") & (cat.category == "Pa")]["MAE"].item()
    assert got == pytest.approx(want)
    assert list(cat[cat.method == "RCRR"].category) == ["In", "Pa", "Sc", "All"]
    assert cat[(cat.method == "RCRR") & (cat.category == "All")]["n_images"].item() == 12

    out = tmp_path / "cat.tex"
    code, _, err = run_cli(["table", real_eval, "--by-category", "--metrics", "MAE,wF", "--layout", "wide", "--out", out], capsys)
    assert code == 0, err
    tex = out.read_text()
    assert r"\multicolumn{2}{c}{In}" in tex and r"\multicolumn{2}{c}{All}" in tex
    assert r"\caption{SD900-test per category}" in tex

    code, out_md, err = run_cli(["table", real_eval.with_name("sd900_test.per_image.csv"), "--by-category",
                                 "--categories", "Sc,In", "--no-overall"], capsys)
    assert code == 0, err
    assert _header(out_md)[:2] == ["Sc MAE↓", "Sc Sm↑"] and "All" not in out_md


def test_per_category_skips_undefined_values():
    pi = pd.DataFrame({"method": "A", "dataset": "mt", "split": "full", "stem": ["a", "b", "c"],
                       "category": ["Free", "Free", "Crack"], "WF": [np.nan, 0.0, 0.5]})
    cat = per_category(pi, overall=False)
    assert cat.set_index("category").loc["Free", "WF"] == 0.0 and cat.set_index("category").loc["Free", "n_images"] == 2


def test_cli_user_errors_are_one_line(real_eval, tmp_path, capsys):
    code, _, err = run_cli(["table", real_eval.with_name("sd900_test.per_image.csv")], capsys)
    assert code == 2 and "per-image file" in err and "--by-category" in err and "Traceback" not in err
    code, _, err = run_cli(["table", tmp_path / "nope.csv"], capsys)
    assert code == 2 and "nope.csv: file not found" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = run_cli(["table", bad], capsys)
    assert code == 2 and "bad.csv: not a results file" in err
    code, _, err = run_cli(["table", real_eval, "--by-category"], capsys)  # sibling exists: fine
    assert code == 0


# --------------------------------------------------------------------------- curves

def test_curves_side_by_side_and_separate(real_eval, tmp_path, capsys):
    npz = real_eval.with_name("sd900_test.curves.npz")
    _, curves, labels = read_curves([npz])
    assert labels == ["SD900-test"] and list(curves) == list(REAL_METHODS)

    code, _, err = run_cli(["curves", npz, "--out", tmp_path / "pr"], capsys)
    assert code == 0, err
    png = tmp_path / "pr.png"
    assert (tmp_path / "pr.pdf").read_bytes()[:5] == b"%PDF-"
    w, h = Image.open(png).size
    assert abs(w - 7.1 * 300) < 0.06 * 7.1 * 300 and 0.3 < h / w < 0.6  # page width at 300 dpi, two panels

    paths = plot_curves([npz], tmp_path / "sep.png", methods=["CSEPNet", "RCRR"], separate=True, kinds=("pr", "em"))
    assert sorted(p.name for p in paths) == sorted(f"sep-{k}.{e}" for k in ("pr", "em") for e in ("pdf", "png"))
    w, _ = Image.open(tmp_path / "sep-em.png").size
    assert abs(w - 3.5 * 300) < 0.08 * 3.5 * 300
    # a curve is actually drawn: the PNG has coloured (non-gray) pixels
    arr = np.asarray(Image.open(tmp_path / "sep-pr.png").convert("RGB")).astype(int)
    assert (np.ptp(arr, axis=2) > 60).sum() > 500


def test_curves_refuse_unknown_methods_and_mixed_datasets(real_eval, tmp_path):
    npz = real_eval.with_name("sd900_test.curves.npz")
    with pytest.raises(ConfigError, match="SAM-x"):
        plot_curves([npz], tmp_path / "x", methods=["SAM-x"])
    other = tmp_path / "mt.curves.npz"
    d = dict(np.load(npz))
    np.savez(other, **{k.replace("RCRR", "RCRR-mt"): v for k, v in d.items() if "CSEPNet" not in k and "MCITF" not in k})
    pd.DataFrame({"method": ["RCRR-mt"], "dataset": ["mt"], "split": ["full"]}).to_csv(tmp_path / "mt.csv", index=False)
    with pytest.raises(ConfigError, match="different datasets"):
        plot_curves([npz, other], tmp_path / "x")
    bad = tmp_path / "bad.curves.npz"
    np.savez(bad, foo=np.zeros(3))
    with pytest.raises(DataError, match="thresholds"):
        plot_curves([bad], tmp_path / "x")


def test_line_styles_tell_sixteen_methods_apart():
    methods = [f"B{i}" for i in range(12)] + ["SAM-vit_t-box", "SAM-vit_t-point1", "SAM-vit_b-box", "SAM-vit_h-box"]
    st = method_styles(methods)
    keys = {(s["color"], str(s["linestyle"])) for s in st.values()}
    assert len(keys) == 16
    assert all(st[m]["linestyle"] == "-" and st[m]["linewidth"] > st["B0"]["linewidth"] for m in methods[12:])
    assert all(st[m]["linestyle"] != "-" for m in methods[:12])


# --------------------------------------------------------------------------- figures

def test_choose_examples_follows_metric_direction():
    pi = pd.DataFrame({"method": "SAM", "dataset": "sd900", "split": "test",
                       "stem": ["In_1", "In_2", "In_3", "In_4", "Pa_1", "Pa_2"],
                       "category": ["In"] * 4 + ["Pa"] * 2,
                       "WF": [0.1, 0.9, 0.5, 0.4, 0.3, 0.7], "MAE": [0.9, 0.1, 0.5, 0.4, 0.3, 0.7]})
    wf = choose_examples(pi, "SAM", "WF")
    assert list(zip(wf.stem, wf.which)) == [("In_2", "best"), ("In_3", "median"), ("In_1", "worst"),
                                            ("Pa_2", "best"), ("Pa_1", "worst")]
    mae = choose_examples(pi, "SAM", "MAE", per_category=False, which=("best", "worst"))
    assert list(mae.stem) == ["In_2", "In_1"]
    chosen = choose_examples(pi, "SAM", "WF", stems=["Pa_1"])
    assert chosen.iloc[0].to_dict() == {"stem": "Pa_1", "category": "Pa", "which": "chosen", "value": 0.3}
    with pytest.raises(DataError, match="not in the per-image rows"):
        choose_examples(pi, "Nope", "WF")


def test_qualitative_grid_from_real_maps(real_eval, datasets_root, sd900_baselines, tmp_path):
    pi = pd.read_csv(real_eval.with_name("sd900_test.per_image.csv"))
    ex = choose_examples(pi, "CSEPNet", "wF", which=("best", "worst"))
    assert len(ex) == 6
    Sample = namedtuple("Sample", "stem category image_path mask_path")
    root = datasets_root / "SD-saliency-900"
    samples = [Sample(s, s.split("_")[0], root / "Source Images" / f"{s}.bmp", root / "Ground truth" / f"{s}.png") for s in STEMS]
    notes = {r.stem: f"{r.which} wF {r.value:.3f}" for r in ex.itertuples()}
    dirs = {"CSEPNet": sd900_baselines / "CSEPNet", "RCRR": sd900_baselines / "RCRR", "MCITF": sd900_baselines / "MCITF",
            "SAM-vit_t-auto-union-pps16": tmp_path / "no-maps-yet"}
    rows = examples_from_samples(samples, list(ex.stem), dirs, notes)
    assert rows[0].maps["SAM-vit_t-auto-union-pps16"] is None and rows[0].maps["RCRR"].suffix == ".png"
    paths = qualitative_grid(rows, list(dirs), tmp_path / "grid", contour=True)
    png = Image.open(tmp_path / "grid.png")
    assert png.size[0] == round(7.1 * 300)  # 6 columns fill the page width exactly; nothing cropped
    assert png.size[1] > png.size[0]  # six square rows
    assert all(p.stat().st_size > 10_000 for p in paths)
    # the GT column of the first row shows the real mask: white and black pixels in it
    arr = np.asarray(png.convert("L"))
    assert (arr > 250).any() and (arr < 5).any()


def test_qualitative_grid_accepts_arrays_and_variable_sizes(tmp_path):
    rng = np.random.default_rng(0)
    gt = np.zeros((300, 150), bool)
    gt[100:200, 50:100] = True
    rows = [Example("exp1_num_1", rng.integers(0, 255, (300, 150, 3), dtype=np.uint8), gt, {"M": rng.random((150, 75))}, "Crack"),
            {"stem": "exp2_num_2", "image": np.zeros((100, 200), np.uint8), "gt": np.zeros((100, 200), bool), "maps": {}, "category": "Free"}]
    paths = qualitative_grid(rows, ["M"], tmp_path / "g.pdf")
    assert [p.name for p in paths] == ["g.pdf", "g.png"]
    w, h = Image.open(paths[1]).size
    assert w < 7.1 * 300 and h > 0


def test_category_bars_and_confidence_intervals(real_eval, tmp_path):
    pi = pd.read_csv(real_eval.with_name("sd900_test.per_image.csv"))
    paths = category_bars(pi, "wF", tmp_path / "bars", ci="t")
    assert all(p.stat().st_size > 5_000 for p in paths)
    w, h = Image.open(tmp_path / "bars.png").size
    assert w > h > 300
    with pytest.raises(ConfigError, match="ci="):
        category_bars(pi, "wF", tmp_path / "bars", ci="sd")
    x = [0.1, 0.4, 0.35, 0.8, 0.2]
    m, lo, hi = mean_ci(x, method="bootstrap", seed=3)
    assert (m, lo, hi) == mean_ci(x, method="bootstrap", seed=3) and lo < m < hi
    from scipy import stats
    m, lo, hi = mean_ci(x, method="t")
    assert hi - m == pytest.approx(stats.t.ppf(0.975, 4) * np.std(x, ddof=1) / np.sqrt(5))
    assert mean_ci([np.nan, 0.5])[0] == 0.5


def test_per_category_of_two_datasets_keeps_dataset_in_group_labels():
    def pi(dataset, cats):
        return pd.DataFrame({"method": "A", "dataset": dataset, "split": "full", "stem": [f"s{i}" for i in range(len(cats))],
                             "category": cats, "WF": np.linspace(0.2, 0.8, len(cats))})

    md = tables.render(per_category([pi("mt", ["Crack", "Fray"]), pi("nrsd", ["craft", "real"])], overall=False), "md")
    assert _header(md) == ["MT-full/Crack WF↑", "MT-full/Fray WF↑", "NRSD-full/craft WF↑", "NRSD-full/real WF↑"]


def test_second_only_with_three_ranked_rows():
    two = tables.render(_frame(method=["A", "B"], WF=[0.5, 0.6]), "md")
    assert _cells(two, "B") == ["**0.600**"] and _cells(two, "A") == ["0.500"]  # the worse of two is not "second"
    three = tables.render(_frame(method=["A", "B", "C"], WF=[0.5, 0.6, 0.4]), "md")
    assert _cells(three, "A") == ["<u>0.500</u>"]


def test_display_names_exact_and_glob_and_no_terminal_hints(two_sets):
    names = {"SAM-*-box": "SAM (box)", "RCRR": "RCRR [12]", "SAM-*": "SAM other"}
    md = tables.render(list(two_sets), "md", display_names=names, metrics=["WF", "time_per_image_s"])
    rows = [ln.split("|")[1].strip() for ln in md.splitlines() if ln.startswith("| ") and "Method" not in ln]
    assert rows == ["RCRR [12]", "CSEPNet", "SAM (box)", "SAM other†", "SAM other"]
    tex = tables.render(list(two_sets), "latex", display_names=names, metrics=["WF", "time_per_image_s"])
    assert "Not ranked: s/img." in tex and "--rank" not in tex and "use " not in tex


def test_stacked_layout_blocks_per_dataset(two_sets):
    tex = tables.render(list(two_sets), "latex", layout="stacked", metrics=["WF", "MAE"])
    assert r"\multicolumn{3}{l}{\textit{SD900-test}}" in tex and r"\multicolumn{3}{l}{\textit{MT-full}}" in tex
    mt_block = tex.split(r"\textit{MT-full}")[1]
    assert "CSEPNet" not in mt_block  # no result there: no row
    assert r"Method & WF$\uparrow$ & MAE$\downarrow$ \\" in tex


def test_ci_cells_and_csv_bounds():
    df = _frame(method=["A", "B", "C"], WF=[0.5, 0.6, 0.4])
    cis = df[["method", "dataset", "split"]].assign(WF_lo=[0.45, 0.58, 0.30], WF_hi=[0.55, 0.62, 0.50])
    md = tables.render(df, "md", cis=cis, show_ci=True)
    assert _cells(md, "B") == ["**0.600 ± 0.020**"] and "95% bootstrap" in md
    csv = pd.read_csv(io.StringIO(tables.render(df, "csv", cis=cis)))
    assert list(csv.columns[-3:]) == ["WF", "WF_lo", "WF_hi"] and csv.loc[csv.method == "C", "WF_lo"].item() == 0.30
    assert r"0.600\,$\pm$\,0.020" in tables.render(df, "latex", cis=cis, show_ci=True)


def test_pad_to_keeps_the_image_and_centres_it():
    from samis.report.figures import PAD_GRAY, _pad_to

    tall = np.arange(5 * 2, dtype=np.uint8).reshape(5, 2)  # h/w = 2.5 in a 1:1 cell
    out = _pad_to(tall, 1.0)
    assert out.shape == (5, 5)
    np.testing.assert_array_equal(out[:, 1:3], tall)  # unchanged pixels, centred
    assert (out[:, [0, 3, 4]] == PAD_GRAY).all()
    wide = np.zeros((2, 8, 3), np.uint8)  # RGB, h/w = 0.25 in a 1:2 cell -> padded to 4 x 8
    assert _pad_to(wide, 0.5).shape == (4, 8, 3)


def test_grid_pads_tall_images_instead_of_squashing(tmp_path):
    """A 1263 x 500 tile (MT's shape) in a row capped at 2:1 keeps its 2.53 aspect, padded in light gray."""
    gt = np.zeros((1263, 500), bool)
    gt[:, 200:300] = True
    rows = [{"stem": "t", "image": np.full((1263, 500), 90, np.uint8), "gt": gt, "maps": {"m": gt.astype(np.uint8) * 255}}]
    png = figures.qualitative_grid(rows, ["m"], tmp_path / "g", width_in=3.0)[1]
    img = np.asarray(Image.open(png).convert("L")).astype(int)
    def longest_run(flags):
        idx = np.flatnonzero(flags)
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
        return max(runs, key=len)

    mid = img.shape[0] // 2 + 10
    across = longest_run(np.abs(img[mid] - 90) <= 2)  # the image's own gray, across the middle of its row
    down = longest_run(np.abs(img[:, across[len(across) // 2]] - 90) <= 2)
    assert len(down) / len(across) == pytest.approx(1263 / 500, rel=0.03)
    assert (np.abs(img - figures.PAD_GRAY) <= 1).sum() > 0.05 * img.size  # the padding beside it
