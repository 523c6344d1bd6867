"""Record length against the trained duration: score it as trained, and say what was done.

The members and the calibration were fitted on records of exactly the trained duration
(``preprocessing.duration_s``). A record of another length is handled by an explicit
rule and the rule applied is written next to its score:

- same length: scored as is (``length`` = ``as trained``);
- longer, default: its first ``duration_s`` seconds are scored (``cropped``);
- longer with ``sliding_windows``: every window of the trained duration (stride half a
  window, the last one flush with the end) is scored and the calibrated probabilities
  are averaged (``sliding windows (n)``). The calibration was fitted on single
  trained-duration records, so these averages are not calibrated probabilities in
  the same sense; the CLI warns;
- shorter, default: refused (``BadRecordError`` naming the record);
- shorter with ``pad_short``: zero-padded at the end as in training's cache (``padded``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ensembler.data.preprocess import fit_length
from ensembler.errors import BadRecordError
from ensembler.training.windows import window_starts

AS_TRAINED = "as trained"
CROPPED = "cropped"
PADDED = "padded"


@dataclass(frozen=True)
class LengthPolicy:
    """``sliding_windows``: score longer records over windows; ``pad_short``: zero-pad
    records shorter than the trained duration instead of refusing them."""

    sliding_windows: bool = False
    pad_short: bool = False


def fit_record(x: np.ndarray, n_out: int, fs: float, record: str, policy: LengthPolicy
               ) -> tuple[np.ndarray, str, np.ndarray]:
    """Windows to score, the length label and the samples the quality check should see.

    ``x`` (leads, n) preprocessed at ``fs``; returns (W, leads, n_out) windows, the label
    and (leads, m) scored samples (without padding).
    """
    n = x.shape[1]
    if n == n_out:
        return x[None], AS_TRAINED, x
    if n > n_out:
        if not policy.sliding_windows:
            return fit_length(x, n_out)[None], CROPPED, x[:, :n_out]
        starts = window_starts(n, n_out, max(1, n_out // 2))
        wins = np.stack([x[:, s:s + n_out] for s in starts])
        return wins, f"sliding windows ({len(starts)})", x
    if not policy.pad_short:
        raise BadRecordError(record, f"{n / fs:.2f} s long, shorter than the {n_out / fs:g} s "
                             "the bundle was trained on; pass --pad-short to zero-pad it "
                             "(the record is then flagged)")
    return fit_length(x, n_out)[None], PADDED, x
