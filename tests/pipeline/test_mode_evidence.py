"""Member-mode evidence: nested patient shares of each fold's training part, the members'
own fold-training code, development OOF AUC per share, no test row read, reruns skipped."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from toydata import ToySplit, make_split

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.errors import ConfigError
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.mode_evidence import run_mode_evidence
from ensembler.pipeline.run import run_stages
from ensembler.pipeline.train import run_training
from ensembler.report.mode_evidence import CSV, ModeEvidence
from ensembler.training import feature_member, jobs
from ensembler.training.inner import PatientSubset
from ensembler.training.metrics import macro_auc


class RowSpy(np.ndarray):
    """An array that records every row (axis 0) an index reads; results are plain arrays."""

    read: set[int]

    @classmethod
    def of(cls, a: np.ndarray) -> RowSpy:
        out = np.array(a).view(cls)
        out.read = set()
        return out

    def __getitem__(self, key: Any) -> Any:
        rows = key[0] if isinstance(key, tuple) else key
        self.read.update(np.arange(self.shape[0])[rows].ravel().tolist())
        return np.asarray(super().__getitem__(key))


def _cohort(n_patients: int = 60, amplitude: float = 0.2, seed: int = 1) -> Cohort:
    """One ECG per patient; the label is a 5 Hz burst of ``amplitude`` in lead I (noise 0.3)."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n_patients, 1)) < 0.45).astype(np.uint8)
    t = np.arange(250) / 100.0
    x = rng.normal(0, 0.3, size=(n_patients, 12, 250)).astype(np.float32)
    x[:, 0] += (amplitude * y[:, :1] * np.sin(2 * np.pi * 5 * t)[None, :]).astype(np.float32)
    age = rng.normal(60, 10, n_patients).astype(np.float32)
    sex = rng.integers(0, 2, n_patients).astype(np.float32)
    return Cohort(signals=x, labels=y, class_names=["COND"],
                  patient_id=np.array([f"p{i:03d}" for i in range(n_patients)]),
                  record_id=np.array([f"r{i:03d}" for i in range(n_patients)]), fs=100.0,
                  tabular=np.stack([age, sex], axis=1), tabular_names=["age", "sex"],
                  subgroups=pd.DataFrame({"sex": sex}), fingerprint=f"ev-{n_patients}-{seed}")


def _config(run_dir: Path, **export: Any) -> RunConfig:
    return RunConfig.model_validate({
        "name": "evidence", "seed": 7, "run_dir": str(run_dir),
        "training": {"epochs": 1, "batch_size": 16, "crop_s": 1.0, "patience": 2,
                     "inner_val_fraction": 0.25, "n_jobs": 1, "backend": "sequential",
                     "device": "cpu"},
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [4, 4, 4]}}],
        "feature_members": [{"name": "feat", "learner": "logistic", "tabular": False}],
        "report": {"n_bootstrap": 100},
        "export": {"mode_evidence": ["cnn", "feat"], **export},
    })


def _dir(cfg: RunConfig) -> Path:
    return Path(str(cfg.run_dir))


def _context(cfg: RunConfig, cohort: Cohort, split: ToySplit) -> RunContext:
    ctx = RunContext(cfg=cfg, run_dir=_dir(cfg), progress=False)
    ctx.__dict__.update(cohort=cohort, split=split)  # the cached properties, given
    return ctx


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunConfig, Cohort, ToySplit]:
    """A trained run (cnn + a feature member, 3 folds, 12 test patients)."""
    run_dir = tmp_path_factory.mktemp("evidence") / "run"
    run_dir.mkdir()
    cohort = _cohort()
    split = make_split(cohort, k=3, test_patients=12)
    cfg = _config(run_dir)
    run_training(_context(cfg, cohort, split))
    return cfg, cohort, split


def test_subsets_are_nested_whole_patients_of_the_training_part() -> None:
    cohort = _cohort(n_patients=50)
    split = make_split(cohort, k=3, test_patients=8)
    groups = cohort.patient_id
    for fold in range(3):
        part = np.flatnonzero((split.fold >= 0) & (split.fold != fold))
        n_part = len(np.unique(groups[part]))
        kept: set[str] = set()
        for f in (0.25, 0.5, 0.75):
            rows = PatientSubset(f, 11).rows(part, groups, fold)
            patients = set(groups[rows])
            assert kept < patients and len(patients) == round(f * n_part)  # nested, grows
            assert set(rows) == set(part[np.isin(groups[part], list(patients))])  # whole
            kept = patients
        other = set(groups[PatientSubset(0.5, 12).rows(part, groups, fold)])
        assert other != set(groups[PatientSubset(0.5, 11).rows(part, groups, fold)])


def test_evidence_reads_no_test_row_and_writes_the_curve(
        trained: tuple[RunConfig, Cohort, ToySplit]) -> None:
    cfg, cohort, split = trained
    shutil.rmtree(_dir(cfg) / "efficiency", ignore_errors=True)  # computed here, spied
    spied = dataclasses.replace(cohort, signals=RowSpy.of(cohort.signals),
                                labels=RowSpy.of(cohort.labels))
    ctx = _context(cfg, spied, split)
    ev = run_mode_evidence(ctx)
    test = set(np.flatnonzero(split.fold == -1).tolist())
    for arr in (spied.signals, spied.labels):
        assert isinstance(arr, RowSpy) and arr.read and not arr.read & test

    assert ev is not None and ev.members == ["cnn", "feat"]
    assert ModeEvidence.read_csv(_dir(cfg) / CSV) == ev
    assert (_dir(cfg) / CSV).with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    dev = split.fold >= 0
    for m in ev.members:
        curve = ev.curve(m)
        assert [p.fraction for p in curve] == [0.5, 0.75, 1.0]
        own = np.load(_dir(cfg) / "predictions" / f"{m}.npz")["oof"]
        assert curve[-1].oof_auc == pytest.approx(macro_auc(cohort.labels[dev], own))
        assert curve[-1].gain_to_full == 0.0
        assert curve[0].n_patients < curve[1].n_patients < curve[2].n_patients
        assert curve[-1].dev_share == pytest.approx(2 / 3, abs=0.02)  # K = 3
        for p in curve:
            assert p.oof_auc_lo <= p.oof_auc <= p.oof_auc_hi
            assert p.gain_lo <= p.gain_to_full <= p.gain_hi


def test_each_share_is_trained_by_the_fold_code_on_its_subset(
        trained: tuple[RunConfig, Cohort, ToySplit]) -> None:
    cfg, cohort, split = trained
    run_mode_evidence(_context(cfg, cohort, split))  # current: reused
    root = _dir(cfg) / "efficiency" / "mode_evidence"
    for f in (0.5, 0.75):
        for fold in range(3):
            part = np.flatnonzero((split.fold >= 0) & (split.fold != fold))
            rows = PatientSubset(f, _subset_seed(cfg)).rows(part, cohort.patient_id, fold)
            for m in ("cnn", "feat"):
                folder = root / f"frac_{f:g}" / m / f"fold_{fold}"
                meta = json.loads((folder / "meta.json").read_text())
                assert meta["n_train"] + meta["n_val"] == len(rows)  # one ECG per patient
                with np.load(folder / "preds.npz") as z:
                    assert sorted(z["oof_rows"]) == sorted(np.flatnonzero(split.fold == fold))
                    assert z["test"].shape[0] == 0


def _subset_seed(cfg: RunConfig) -> int:
    from ensembler.utils.seeds import derive_seed

    return derive_seed(cfg.seed, "member mode evidence")


def test_a_rerun_trains_nothing(trained: tuple[RunConfig, Cohort, ToySplit],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, cohort, split = trained
    first = run_mode_evidence(_context(cfg, cohort, split))

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a current share was retrained")

    monkeypatch.setattr(jobs, "fit_model", refuse)
    monkeypatch.setattr(feature_member, "fit_learner", refuse)
    assert run_mode_evidence(_context(cfg, cohort, split)) == first
    (_dir(cfg) / CSV).unlink()  # a missing output: the stage reruns, every job is still current
    assert run_mode_evidence(_context(cfg, cohort, split)) == first


def test_planted_signal_gains_with_more_patients(
        trained: tuple[RunConfig, Cohort, ToySplit]) -> None:
    cfg, cohort, split = trained
    ev = run_mode_evidence(_context(cfg, cohort, split))
    assert ev is not None
    feat = [p.oof_auc for p in ev.curve("feat")]
    assert feat[0] < feat[1] < feat[2]  # a weak burst: learnt better from more patients
    assert ev.step("feat").gain_lo > 0
    assert "are expected to gain where the step's CI is above 0" in ev.summary()


def test_unknown_member_is_a_config_error(trained: tuple[RunConfig, Cohort, ToySplit]) -> None:
    cfg, cohort, split = trained
    with pytest.raises(ConfigError, match=r"export\.mode_evidence: unknown members \['nope'\]"):
        run_mode_evidence(_context(cfg, cohort, split), ["nope"])
    with pytest.raises(ConfigError, match=r"--members: unknown members"):
        run_mode_evidence(_context(cfg, cohort, split), ["cnn", "nope"], "--members")


def test_run_has_the_stage_between_training_and_stacking(tmp_path: Path) -> None:
    from rich.console import Console

    cohort = _cohort()

    def stages(cfg: RunConfig) -> list[str]:
        ctx = _context(cfg, cohort, make_split(cohort))
        return [name for name, _ in run_stages(ctx, Console(quiet=True))]

    names = stages(_config(tmp_path))
    assert names[names.index("training") + 1] == "member mode evidence"
    assert names[names.index("member mode evidence") + 1] == "stacking"
    assert "member mode evidence" not in stages(_config(tmp_path, mode_evidence=[]))
