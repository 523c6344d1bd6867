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

## Feature members

A config's `feature_members` turns a feature set into a stacked member:

```yaml
feature_members:
  - name: ecg_features          # member name, like a model entry's
    feature_set: ecg_clinical   # or ecg_clinical_beats, or "my.module:MyFeatures"
    tabular: true               # also give the learner data.tabular (age, sex, ...)
    lightgbm: {learning_rate: 0.05, num_leaves: 15, max_rounds: 1000, early_stopping: 50}
```

Per fold of the run's split, one LightGBM booster per class is fitted on that fold's
training part and early-stopped on the same kind of inner patient-grouped, label-stratified
validation split as the networks (`training.inner_val_fraction`, seed derived from the run
seed, the member and the fold). The member writes the same predictions contract as a
network (`predictions/<name>.npz`: `oof`, `test_by_fold`, ...), so the stacking study,
the comparison and the report treat it like any member; its boosters are stored as
LightGBM text (`base/<name>/fold_<k>/booster_<c>.txt`), and a fold whose fingerprint
(member settings, fold, seed, cohort, split, feature-set spec and library versions) is
unchanged is not refitted. Its latency in the report is the feature computation's CPU
time per ECG plus the boosters' measured time. When the best single member is a feature
member, its one-model leaderboard row is `<name>:one_model` of kind `feature_model` (a
network's is `<name>:one_network`, kind `network`); its latency, like the fold bag's,
includes the feature computation, and so do the Pareto plot and the bundle's measured
latency in the model card (the bundle computes the features from the signals). Not yet:
the learner is not tuned by the Optuna stage, and `ensembler train --folds` does not
apply to it (all its folds are fitted).

### On the quickstart's synthetic cohort

The quickstart (`configs/quickstart.yaml`) has one feature member, `ecg_features`
(`ecg_clinical` + LightGBM, with age, sex and pacemaker). Its cohort favours such a
member, and results on it say little about real ECGs: the synthetic condition's latent
risk (`ensembler/data/synth/condition.py`) is a weighted sum of seven planted terms, and
five of them are quantities this feature set measures almost directly — QRS voltage
(QRS amplitude × exp(−0.15 z): the `qrs_pp_mv`, `r_amp_mv` columns), Q-wave depth in
V1–V3 (0.08 mV × exp(0.5 z): `V1:q_amp_mv` … `V3:q_amp_mv`), the QT interval
(× exp(0.05 z), about 20 ms per SD: `qt_ms`, `qtc_*`), an irregular rhythm without P
waves (12 % of ECGs: `rr_irregularity`, `sdnn_ms`, `rmssd_ms`, P amplitudes) and the
frontal QRS axis (50° − 25° z: `qrs_axis_deg`); the other two are age and sex, which
the member also reads. So the condition is planted partly in feature space — intervals,
axis, voltages and rhythm — which a network has to learn from 300 patients per fold,
while the feature member is handed it.

### Feature members in bundles

`ensembler export` ships a feature member as data only: `members/<name>/feature_set.json`
(the registry name or import path, its parameters, the feature set's spec — name,
version, parameters — its columns, the tabular columns appended after them, and the
neurokit2/scipy/numpy versions the features were computed with) and one LightGBM text
model per class per fold (`members/<name>/fold_<k>/booster_<c>.txt`). The manifest pins
the feature-set version and lists neurokit2 and lightgbm among its library versions.
`predict`, `evaluate` and `verify` rebuild the feature set from the installed registry —
or, for a user set `"module.path:callable"`, only when the loading user allows exactly
that name (`--allow-feature-set module.path:callable`, the same list as `--allow-arch`)
— and refuse a bundle whose feature set reports another version or other columns than
the boosters were trained on; a different neurokit2 version only warns. Features are
computed from the raw WFDB records after the bundle's own preprocessing, by the same
function the run's feature cache used, so the export's parity check (raw records →
bundle → stack, ≤ 1e-5) covers feature members; on the tests' tiny run the bundle
reproduces the run's stacked test predictions exactly (max |Δ| = 0). Missing tabular
values reach the boosters as NaN (LightGBM's learned missing path) under every
`--impute-missing-tabular` setting; a feature member has no refit-full model, so its
bundles are fold-average. `explain` does not yet explain feature members (it refuses
such a bundle with a one-line error).
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


def markdown() -> str:
    """The whole page: how features are measured, then one column table per feature set."""
    return INTRO + "\n" + "\n".join(_table(name) for name in list_feature_sets())
