"""The strip-steel defect papers' protocol (EDRNet, DACNet, MCITF tables): WF, SM, OR, PFOM, MAE.

WF, SM and MAE are the sod protocol's wF (beta^2 = 1), Sm (alpha 0.5) and MAE of the same
normalized map, computed once when both protocols are asked for. PFOM is undefined on an image where
neither map nor ground truth has an edge; the split's PFOM is the mean over the images where it is
defined. Tables print four decimals without the leading zero (.2591), as those papers do.
"""

from samis.protocols.base import HIGHER, LOWER, Protocol, mean_where_defined

COLUMNS = ("WF", "SM", "OR", "PFOM", "MAE")


def measure(m):
    """One map's steel values (no arrays: every column is a mean over images)."""
    return {"WF": m.weighted_f, "SM": m.smeasure, "OR": m.overlap_ratio, "PFOM": m.pfom, "MAE": m.mae}, {}


PROTOCOL = Protocol(
    name="steel",
    description="strip-steel defect papers: WF, SM, OR, PFOM, MAE",
    columns=COLUMNS,
    directions={c: LOWER if c == "MAE" else HIGHER for c in COLUMNS},
    measure=measure,
    reducers={"PFOM": mean_where_defined},
    decimals=4,
    leading_zero=False,
)
