"""Config of the comparison report and the operating point."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ensembler.config.base import Section


class ReportConfig(Section):
    n_bootstrap: int = Field(1000, ge=100)
    threshold: Literal["youden", "sensitivity"] = "youden"
    target_sensitivity: float = Field(0.8, gt=0, lt=1)
    ece_bins: int = Field(10, ge=2)
    subgroups: list[str] = Field(default_factory=lambda: ["sex", "age_band", "paced"])
    min_subgroup_n: int = Field(30, ge=1)
    latency_repeats: int = Field(20, ge=3)
    data_efficiency: list[str] = Field(default_factory=list)  # member names to rerun
    data_efficiency_fractions: list[float] = Field(
        default_factory=lambda: [0.1, 0.25, 0.5, 1.0]
    )


class ExportConfig(Section):
    enabled: bool = True
    stack: str | None = None  # None: the jointly tuned stack
    members: Literal["auto", "fold-average", "refit-full"] = "auto"
    onnx: bool = False
    zip: bool = False
    intended_use: str = (
        "Research use only: retrospective evaluation of ECG classifiers. "
        "Not a medical device; not for clinical decision making."
    )
