"""Tables and figures from evaluation outputs (results CSV, per-image CSV, curves NPZ).

Nothing here recomputes a metric: it reads only the files the evaluator writes (see
docs/ARCHITECTURE.md), so a table or figure can be redrawn without touching the maps.
Submodules are imported on use (``samis.report.tables``, ``.curves``, ``.figures``) so that building a
table never imports matplotlib.
"""
