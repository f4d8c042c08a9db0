"""The HTML report opened in a real headless Chromium (Debian chromium + chromium-driver via selenium):
sort a column, filter a category, hide a method, save a screenshot that is not blank."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from samis.experiments import load_definition, reproduce
from test_reproduce import make_study


def _driver():
    """Headless Chromium, or a skip (a failure in CI, where .ci/run installs it) naming what to install."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        msg = "no chromium/chromedriver: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A real small study: synthetic steel images (3 per class), FT and a second stored method, evaluated
    by samis, its tables, figures and index.html."""
    tmp = tmp_path_factory.mktemp("html")
    path = make_study(tmp, per_class=3)
    # a second stored method: FT's maps inverted, so the two differ on every image
    inv = tmp / "maps" / "INV"
    inv.mkdir()
    for p in (tmp / "maps" / "FT").glob("*.png"):
        Image.fromarray(255 - np.asarray(Image.open(p))).save(inv / p.name)
    data = yaml.safe_load(path.read_text())
    data["baselines"]["syn"]["methods"] = ["FT", "INV"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    d = load_definition(path)
    reproduce(d, only="evaluate", progress=False, echo=lambda m: None, jobs=1)
    reproduce(d, only="tables", progress=False, echo=lambda m: None, jobs=1)
    return d


def _visible_values(driver, section, col):
    rows = section.find_elements("css selector", "table.images tbody tr")
    out = []
    for r in rows:
        if r.is_displayed():
            out.append((r.get_attribute("data-cat"), r.find_elements("css selector", "td")[col].get_attribute("data-v")))
    return out


def test_report_sorts_filters_and_renders(report, tmp_path):
    index = report.output / "index.html"
    assert index.is_file()
    html = index.read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched from a server or CDN
    thumbs = list((report.output / "html").rglob("*.png"))
    assert thumbs and max(max(Image.open(p).size) for p in thumbs) <= 160
    per_image = pd.read_csv(report.output / "results" / "syn" / "full" / "baselines.sod.per_image.csv")

    driver = _driver()
    try:
        driver.get(index.as_uri())
        section = driver.find_element("css selector", "section.browser")
        headers = section.find_elements("css selector", "table.images thead th")
        col = next(i for i, h in enumerate(headers) if h.get_attribute("data-metric") == "IoU" and h.get_attribute("data-method") == "FT")
        headers[col].click()  # best first: IoU higher is better
        values = [float(v) for _, v in _visible_values(driver, section, col)]
        ft = per_image[per_image.method == "FT"]["IoU"]
        assert values == sorted(ft, reverse=True) and len(values) == len(ft)
        headers[col].click()  # worst first
        assert [float(v) for _, v in _visible_values(driver, section, col)] == sorted(ft)

        from selenium.webdriver.support.ui import Select

        Select(section.find_element("css selector", "select.cat-filter")).select_by_value("Sc")
        shown = _visible_values(driver, section, col)
        assert {c for c, _ in shown} == {"Sc"} and len(shown) == (per_image[per_image.method == "FT"].category == "Sc").sum()
        assert section.find_element("css selector", ".shown").text == str(len(shown))

        toggle = section.find_elements("css selector", "input.method-toggle")[1]  # INV
        toggle.click()
        inv_cells = section.find_elements("css selector", 'table.images [data-m="1"]')
        assert inv_cells and not any(c.is_displayed() for c in inv_cells)

        table = driver.find_element("css selector", 'table.report-table[data-name="main-sod"]')
        ths = table.find_elements("css selector", "thead th")
        mae = next(i for i, h in enumerate(ths) if h.text.strip() == "MAE")
        ths[mae].click()  # lower is better: ascending
        col_vals = [float(r.find_elements("css selector", "td")[mae].get_attribute("data-v"))
                    for r in table.find_elements("css selector", "tbody tr")]
        assert col_vals == sorted(col_vals)

        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.std() > 20 and len(np.unique(img)) > 30  # text, tables and thumbnails, not a blank page


def test_samis_report_cli_writes_the_page(report):
    from samis.cli import main

    index = report.output / "index.html"
    index.unlink()
    main(["report", str(report.path), "--no-tables"])
    text = index.read_text()
    assert "Per-image browser" in text and "main-sod" in text and 'src="html/syn/image/' in text
    assert "<script>" in text and text.count("<script") == 1  # one inline script, nothing loaded


def test_browser_images_bounds_the_browser_from_worst_to_best(report, tmp_path):
    """browser_images: N keeps N images per unit, spread over the ranking of the first method, worst and best included."""
    import dataclasses

    from samis.experiments.layout import Layout
    from samis.report.html import browser

    d = dataclasses.replace(report, browser_images=3, output=tmp_path / "out")
    shutil.copytree(report.output / "results", d.output / "results")
    full = browser(Layout(report), report, "syn/full", echo=lambda m: None)
    small = browser(Layout(d), d, "syn/full", echo=lambda m: None)
    assert small.total == full.total == len(full.rows) == 9 and len(small.rows) == 3
    method, metric = full.methods[0][0], full.metrics[0]
    per_image = pd.read_csv(report.output / "results" / "syn" / "full" / "baselines.sod.per_image.csv")
    mine = per_image[per_image["method"] == method].set_index("stem")[metric]
    shown = mine[sorted({r["stem"] for r in small.rows})]
    assert shown.min() == mine.min() and shown.max() == mine.max()  # the worst and the best image are kept
    assert len({r["stem"] for r in full.rows}) == 9


def test_thumbnails_the_page_no_longer_shows_are_removed(report, tmp_path):
    """A report rewritten with a smaller browser keeps only the thumbnails its page links to."""
    import dataclasses
    import re

    from samis.report.html import write_html

    d = dataclasses.replace(report, output=tmp_path / "out")
    shutil.copytree(report.output / "results", d.output / "results")
    write_html(d, echo=lambda m: None)
    assert len(list((d.output / "html").rglob("image/*.jpg"))) == 9
    write_html(dataclasses.replace(d, browser_images=3), echo=lambda m: None)
    on_disk = {p.relative_to(d.output).as_posix() for p in (d.output / "html").rglob("*") if p.is_file()}
    linked = set(re.findall(r'"(html/[^"]+)"', (d.output / "index.html").read_text()))
    assert on_disk == linked and len([p for p in on_disk if p.endswith(".jpg")]) == 3
