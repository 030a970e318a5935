"""`bench list methods --costs`: parameters and FLOPs per view of every video model, without training."""
from __future__ import annotations

import pandas as pd

from benchmark.methods import MethodContext
from benchmark.registry import video_methods

FLOPS_NOTE = "FLOPs: 2 per multiply-add (torch.utils.flop_counter), recurrent layers included"


def costs_table(profile: str, n_classes: int) -> pd.DataFrame:
    rows = []
    for name, spec in video_methods().items():
        method = spec.build(MethodContext(profile=profile, seed=0, device="cpu", n_classes=n_classes))
        if spec.family != "deep":
            rows.append({"method": name, "M params": None, "GFLOPs/view": None, "views": None,
                         "note": "classical: size depends on the fitted codebook / data"})
            continue
        cost = method.costs()
        rows.append({"method": name, "M params": cost["params"] / 1e6,
                     "GFLOPs/view": cost["flops_per_view"] / 1e9, "views": cost["views"], "note": ""})
    return pd.DataFrame(rows)
