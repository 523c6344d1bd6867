"""The feature reference page (docs/sections/features.md), generated from the column specs."""

from __future__ import annotations

from ensembler.features.registry import create_feature_set, list_feature_sets

INTRO = """\
# ECG feature sets

A *feature set* turns one preprocessed ECG (leads × samples, mV) into named, documented
columns, for feature-based members (a gradient-boosted or linear model on features, next
to the networks). Feature sets are registered by name like architectures
(`ensembler.features.register_feature_set`, `create_feature_set`, `list_feature_sets`);
a user's own set is given as `"module.path:callable"` and is imported only when the
caller allows it explicitly (`create_feature_set(name, allow_import=True)`), so nothing
rebuilds user code unasked.

`ensembler.features.compute.compute_features(feature_set, cohort, cache_root, n_jobs,
progress)` computes a cohort in parallel (joblib, chunks of 32 ECGs) with a progress bar,
and caches the result under `features-<key>/` where the key hashes the cohort
fingerprint, the feature-set spec (name, version, parameters), the sampling rate, the
leads and the versions of neurokit2, scipy and numpy. The cache records the CPU time per
ECG.

## How `ecg_clinical` measures

1. Band-pass 0.5–40 Hz (Butterworth order 2, zero phase; the upper edge is capped at
   0.45 × the sampling rate).
2. R peaks: neurokit2's QRS detector (`ecg_findpeaks`, method "neurokit") on the lead with
   the largest excursion, each peak moved to the maximum of the 12-lead spatial magnitude
   within ±50 ms.
3. Median beat per lead over every beat with a full window (R − 350 ms to R + 650 ms), and
   its signal-quality index (SQI): the median correlation of each beat (R − 150 to
   R + 300 ms, all leads) with the median of the other beats (the correlation kernel is
   the one `predict`'s per-lead quality screen uses, `template_correlations`; the two
   indices differ by design, see the bundle page).
4. Rhythm and waves are measured only when at least 3 beats had a full window and
   SQI ≥ 0.5; otherwise those columns are NaN (on noise the detector still "finds" beats).
5. Delineation of the **median beat**, not of every beat: neurokit2's delineators (DWT,
   peak) work beat by beat on one lead and are unreliable at 100 Hz, where a QRS spans
   8–12 samples, so the fallback below is used at every sampling rate (neurokit2's DWT
   delineation at ≥ 250 Hz is not wired in). QRS onset/offset where the spatial velocity
   crosses 8 % of its maximum (interpolated between samples); baseline of each lead = its
   mean over the 20 ms before QRS onset; T end by the tangent method (median over leads
   with a T at least a third of the largest); P onset/offset where the spatial magnitude
   (less its noise level) crosses e⁻² of its peak height.
6. QTc by Bazett and Fridericia; frontal axes from net areas in I and aVF.

Cost and accuracy are measured by `bench/bench_features.py` (CPU ms per ECG at 100 and
500 Hz, errors against the synthetic generator's truth, interval quantiles on PTB-XL NORM
records; `bench/results/features.json`, summarised in [Results](../results.md)); the tests
check the 50 ms per ECG budget, and that on synthetic ECGs whose QRS width, QT, PR, heart
rate and axis are fixed by the generator's parameters the measured values fall within
20 ms (QRS, PR), 30 ms (QT), 3 bpm and 15° at 100 and 500 Hz
(`tests/features/test_clinical.py`), and that on 20 PTB-XL NORM records the intervals lie
in physiological ranges (`tests/features/test_ptbxl_norm.py`).

LightGBM treats NaN as missing (it learns a direction for it); a linear learner needs
imputation. Each table below says when a column is NaN.
"""


def _table(name: str) -> str:
    fset = create_feature_set(name)
    spec = fset.spec()
    lines = [f"## `{name}` (version {spec['version']}, parameters {spec['params']})", "",
             "`{lead}` stands for each of the cohort's leads (I, II, III, aVR, aVL, aVF, "
             "V1–V6 in the standard order).", "",
             "| column | unit | meaning | NaN when |", "|---|---|---|---|"]  # fmt: skip
    for col in fset.column_specs():
        lines.append(f"| `{col.name}` | {col.unit} | {col.description} | {col.nan_when} |")
    return "\n".join(lines) + "\n"


def markdown(members: str = "") -> str:
    """The whole page: how features are measured, ``members`` (the feature-member guide,
    docs/templates/feature_members.md), then one column table per feature set."""
    guide = "\n" + members.strip() + "\n" if members.strip() else ""
    return INTRO + guide + "\n" + "\n".join(_table(name) for name in list_feature_sets())
