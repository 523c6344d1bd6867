"""One template-matching kernel for both quality indices, each keeping its own meaning."""

from __future__ import annotations

import numpy as np

from ensembler.bundle.quality import template_correlation
from ensembler.features.beats import median_beat, template_correlations


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_kernel_is_pearson_along_the_last_axis_nan_when_constant() -> None:
    rng = np.random.default_rng(0)
    beats = rng.normal(size=(5, 3, 40))
    tmpl = rng.normal(size=(1, 3, 40))
    got = template_correlations(beats, tmpl)
    want = [[_pearson(beats[i, j], tmpl[0, j]) for j in range(3)] for i in range(5)]
    np.testing.assert_allclose(got, want, atol=1e-12)
    beats[:, 1] = 2.0  # a flat lead
    assert np.isnan(template_correlations(beats, tmpl)[:, 1]).all()


def test_per_lead_screening_index_keeps_its_meaning() -> None:
    """Per lead: mean over beats of the correlation with the lead's mean beat; flat -> 0."""
    rng = np.random.default_rng(1)
    seg = rng.normal(size=(6, 4, 30))
    seg[:, 2] = 0.5
    tmpl = seg.mean(axis=0)
    want = np.array([np.mean([_pearson(seg[i, j], tmpl[j]) for i in range(6)])
                     if j != 2 else 0.0 for j in range(4)])
    np.testing.assert_allclose(template_correlation(seg), want, atol=1e-12)


def test_record_sqi_keeps_its_meaning() -> None:
    """Record: leads concatenated, leave-one-out median template, median over beats."""
    rng = np.random.default_rng(2)
    fs, n_leads = 100.0, 3
    rpeaks = np.arange(60, 900, 80)
    filtered = rng.normal(size=(n_leads, 1000))
    mb = median_beat(filtered, rpeaks, fs)
    assert mb is not None
    ok = rpeaks[(rpeaks - 35 >= 0) & (rpeaks + 65 < 1000)]
    flat = np.stack([filtered[:, r - 15: r + 31].reshape(-1) for r in ok])
    want = np.median([_pearson(flat[i], np.median(np.delete(flat, i, axis=0), axis=0))
                      for i in range(len(ok))])
    assert mb.n_beats == len(ok)
    assert abs(mb.sqi - want) < 1e-12
