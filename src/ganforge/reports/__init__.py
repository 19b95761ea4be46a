"""ganforge.reports: sample grids, plots and (later) run summaries.

All files are written atomically (temporary file in the same folder, then
``os.replace``), so a reader never sees a half-written PNG.
"""

from __future__ import annotations

from ganforge.reports.images import load_png, make_grid, save_image_grid
from ganforge.reports.plots import comparison_bars, loss_curves, read_jsonl, scatter_2d

__all__ = [
    "comparison_bars",
    "load_png",
    "loss_curves",
    "make_grid",
    "read_jsonl",
    "save_image_grid",
    "scatter_2d",
]
