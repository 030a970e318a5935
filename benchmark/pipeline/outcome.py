"""What one job returns to the driver: small, picklable, no live models or tensors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RowResult:
    """One result row of a job (a job yields several rows when one training feeds several table rows).

    variant: "" for the method itself, else the row's name ("hog", "fusion-avg", ...).
    metrics: flat JSON-serialisable numbers/strings (video_hit1, nll_nats, bits_per_dim, kind, ...).
    predictions: one dict per evaluated item (video or image), with at least "item" (name) and "group";
        video rows add "label", "pred", "scores" (list of class probabilities); density rows add "nll_nats".
    """

    variant: str
    metrics: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JobOutcome:
    rows: list[RowResult]
    timings: dict[str, float]                                # seconds per phase + throughputs, measured by the harness
    costs: dict[str, Any] = field(default_factory=dict)      # params, flops_per_view, views, flops_convention, peak_mem_mb
    artefacts: list[str] = field(default_factory=list)       # files written under the run's artefact dir
