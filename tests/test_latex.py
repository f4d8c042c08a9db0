"""Every LaTeX table samis writes compiles in a two-column and a one-column paper without overfull boxes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from latex_check import assert_fits, compile_tables, engine
from report_study import REPO, default_shaped_study
from samis.experiments.render import render_tables


@pytest.fixture(scope="module")
def default_tables(tmp_path_factory):
    d = default_shaped_study(tmp_path_factory.mktemp("default"))
    lines = []
    render_tables(d, echo=lines.append)
    return d, sorted((d.output / "tables").glob("*.tex")), lines


def test_default_report_tables_fit_the_page(default_tables, tmp_path):
    d, tex, lines = default_tables
    from samis.experiments.definition import RECORD_KINDS

    # the clicks and annotation-cost tables read click CSVs, which this default-shaped study has not
    assert {p.stem for p in tex} == {t.name for t in d.tables if "latex" in t.formats and t.kind not in RECORD_KINDS}, lines
    assert_fits(tex, tmp_path)


def test_default_main_tables_fit_where_asked(default_tables):
    d, _, _ = default_tables
    steel = (d.output / "tables" / "main-steel.tex").read_text()
    sod = (d.output / "tables" / "main-sod.tex").read_text()
    assert r"\begin{table}[" in steel and r"\begin{table*}[" in sod  # one column / the page
    for text in (steel, sod):
        assert "SAM (box)" in text and "SAM-vit" not in text  # display names, not ids
        assert "--rank" not in text  # nothing meant for the terminal
    # the paper-sized metric sets
    assert re.search(r"Method & WF.*SM.*OR.*PFOM.*MAE", steel)
    assert re.search(r"Sm.*wF.*maxF.*maxE.*MAE.*IoU", sod) and "meanE" not in sod


def test_main_table_csv_has_bootstrap_cis(default_tables):
    d, _, _ = default_tables
    csv = pd.read_csv(d.output / "tables" / "main-sod.csv")
    for m in ("Sm", "maxF", "maxE", "MAE", "IoU"):
        assert csv[f"{m}_lo"].notna().all() and (csv[f"{m}_lo"] <= csv[m] + 1e-9).all() and (csv[m] <= csv[f"{m}_hi"] + 1e-9).all()


def test_categories_one_float_per_dataset(default_tables):
    d, _, _ = default_tables
    text = (d.output / "tables" / "categories-sod.tex").read_text()
    assert text.count(r"\end{table") == 4  # SD-900 test, SD-900 full, MT, the MT sample
    assert "Blowhole" in text


def test_committed_and_demo_tables_fit(tmp_path):
    """The .tex files the repository holds (results/default) and `make demo` writes (results/demo)."""
    engine()
    tex = sorted((REPO / "results" / "default" / "tables").glob("*.tex")) + sorted((REPO / "results" / "demo" / "tables").glob("*.tex"))
    if not tex:
        pytest.skip("no results/default or results/demo tables: run `make demo` first")
    assert_fits(tex, tmp_path)


def test_cli_latex_fits_and_is_a_float(tmp_path, default_tables):
    d, _, _ = default_tables
    files = sorted((d.output / "results").rglob("baselines.steel.csv")) + sorted((d.output / "results").rglob("sam.steel.csv"))
    out = tmp_path / "t.tex"
    run = subprocess.run([str(REPO / ".venv" / "bin" / "samis"), "table", *map(str, files), "--style", "steel",
                          "--metrics", "WF,SM,OR,PFOM,MAE", "--display-name", "SAM-*-box=SAM (box)",
                          "--placement", "page", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    assert r"\begin{table*}" in text and "SAM (box)" in text
    assert_fits([out], tmp_path / "latex")


def test_overfull_box_is_detected(tmp_path):
    """The check can fail: a tabular far wider than a column is reported."""
    wide = tmp_path / "wide.tex"
    wide.write_text("\\begin{tabular}{" + "c" * 40 + "}\n" + " & ".join(["0.123"] * 40) + "\\\\\n\\end{tabular}\n")
    result = compile_tables([wide], tmp_path / "w", "twocolumn")
    assert max(result["overfull"]) > 100
