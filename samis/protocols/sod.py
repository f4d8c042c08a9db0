"""The salient-object-detection protocol: PySODMetrics' numbers (MAE, S-measure, weighted F, F and E
curves, adaptive F and E, IoU and Dice of the map cut at 0.5).

maxF, meanF, maxE and meanE of a split come from the mean F and E curves over its images (the best
single threshold for the whole split), not from the images' own maxima; the per-image file keeps
each image's own value. The mean precision, recall, F and E curves go to ``FILE.curves.npz``.
"""

from samis.protocols.base import HIGHER, LOWER, Protocol, curve_max, curve_mean

CURVES = ("precision", "recall", "fmeasure", "emeasure")  # the order of samis.metrics.curves' curves
COLUMNS = ("MAE", "Sm", "wF", "maxF", "meanF", "adpF", "maxE", "meanE", "adpE", "IoU", "Dice")


def measure(m):
    """One map's sod values and its four curves (threshold 255 first, as pysodmetrics)."""
    scalars, curves = m.thresholds
    return {"MAE": m.mae, "Sm": m.smeasure, "wF": m.weighted_f, **scalars}, dict(zip(CURVES, curves))


PROTOCOL = Protocol(
    name="sod",
    description="PySODMetrics: MAE, Sm, wF, max/mean/adaptive F and E, IoU, Dice",
    columns=COLUMNS,
    directions={c: LOWER if c == "MAE" else HIGHER for c in COLUMNS},
    measure=measure,
    reducers={"maxF": curve_max("fmeasure"), "meanF": curve_mean("fmeasure"),
              "maxE": curve_max("emeasure"), "meanE": curve_mean("emeasure")},
    curves=CURVES,
    curves_descending=True,  # 0.259: the default number style, three decimals
)
