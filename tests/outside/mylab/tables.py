"""A table outside the package: the median final loss of every method per experiment and n,
mean over seeds (from the aggregate ``fractions`` frames)."""

from __future__ import annotations

import pandas as pd

from invnet.tables import Rendered, TableInputs, TableSpec


def render(inputs: TableInputs) -> Rendered:
    frac = inputs.tables["fractions"]
    numeric = (frac.groupby(["experiment", "solver", "n"], sort=False)["median_loss"].mean()
               .rename("median_loss_mean").reset_index())
    numeric = numeric.assign(rank=numeric["solver"].map(inputs.solvers.rank)).sort_values(
        ["experiment", "n", "rank"], kind="stable").drop(columns="rank").reset_index(drop=True)
    shown = pd.DataFrame({
        "Experiment": [inputs.label(e) for e in numeric["experiment"]],
        "Method": [inputs.solvers.label(s) for s in numeric["solver"]],
        "n": numeric["n"].astype(str),
        "Median loss": [f"{v:.4g}" for v in numeric["median_loss_mean"]],
    })
    caption = "Median final loss per method and n, mean over seeds."
    return Rendered(numeric, shown, shown, caption, caption, "tab:median-loss", "llrr")


TABLE = TableSpec(name="lab_median_loss", doc="median final loss per method and n", render=render,
                  reads=("fractions",))
