"""Compile LaTeX tables with a real engine inside the documents a paper uses, and read the log.

Two test documents: a 10 pt two-column article and a 10 pt one-column article, both at 0.75 in
margins on letter paper (column 248 pt, page 506 pt). A table fits when pdflatex reports no
overfull box wider than 1 pt and no float larger than the page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOCUMENTS = {
    "twocolumn": r"\documentclass[10pt,twocolumn]{article}",
    "onecolumn": r"\documentclass[10pt]{article}",
}
PREAMBLE = r"""
\usepackage[letterpaper,margin=0.75in]{geometry}
\usepackage{booktabs}
\begin{document}
"""
_OVERFULL = re.compile(r"Overfull \\[hv]box \(([\d.]+)pt too (?:wide|high)\)")
_FLOAT = re.compile(r"Float too large for page by ([\d.]+)pt")


def engine() -> str:
    """pdflatex, or a skip (a failure in CI, where .ci/run installs it) saying what to install."""
    exe = shutil.which("pdflatex")
    if exe is None:
        msg = "no LaTeX engine (pdflatex): apt-get install texlive-latex-base texlive-latex-recommended texlive-fonts-recommended"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


def compile_tables(tex_files, workdir: Path, document: str) -> dict:
    """Compile every table in one document of kind ``document``; return {"overfull": [pt...], "float": [...],
    "log": text, "pdf": path}. Raises AssertionError with the log's end when LaTeX stops with an error."""
    workdir.mkdir(parents=True, exist_ok=True)
    body = "".join(f"\\input{{{Path(p).resolve()}}}\n\\clearpage\n" for p in tex_files)
    doc = workdir / f"{document}.tex"
    doc.write_text(DOCUMENTS[document] + PREAMBLE + body + "\\end{document}\n")
    run = subprocess.run([engine(), "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=workdir,
                         capture_output=True, text=True, timeout=180)
    log = (workdir / f"{document}.log").read_text(errors="replace")
    assert run.returncode == 0, f"pdflatex failed on {document}:\n" + log[-3000:]
    return {"overfull": [float(x) for x in _OVERFULL.findall(log)], "float": [float(x) for x in _FLOAT.findall(log)],
            "log": log, "pdf": workdir / f"{document}.pdf"}


def assert_fits(tex_files, workdir: Path) -> None:
    """Every table compiles in both documents with no overfull box > 1 pt and no float too large."""
    for document in DOCUMENTS:
        result = compile_tables(tex_files, workdir / document, document)
        bad = [w for w in result["overfull"] if w > 1.0]
        context = "\n".join(ln for ln in result["log"].splitlines() if "Overfull" in ln or "Float too large" in ln)
        assert not bad and not result["float"], f"{document}: tables do not fit ({[str(p) for p in tex_files]}):\n{context}"
