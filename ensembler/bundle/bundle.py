"""The loaded bundle: verified files in, calibrated stacked probabilities out.

``load_bundle`` verifies everything (see :mod:`ensembler.bundle.integrity`) before
any weight is touched, then rebuilds each member's networks from safetensors and
the meta-learner from JSON / LightGBM text. It never calls pickle, ``torch.load``
or ``joblib.load``.

Fold-average mode reproduces the run's stacked test predictions exactly: for each
fold k the fold-k models of all members form one level-0 set, the stack scores it
(``FittedStack.predict_level0``) and the K outputs are averaged. Refit-full mode
scores the single level-0 set of the refit-full models.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ensembler.bundle.feature_io import (
    FeatureBundleMember,
    is_feature_entry,
    load_feature_member,
)
from ensembler.bundle.imputation import (
    TabularImputer,
    build_imputer,
    missing_mask,
    require_tabular,
)
from ensembler.bundle.integrity import MANIFEST, VerifiedBundle, read_verified
from ensembler.bundle.members import BundleMember, load_fold_model
from ensembler.bundle.weights import check_architectures
from ensembler.config import PreprocessingConfig
from ensembler.errors import BundleIntegrityError, DataError
from ensembler.training.members import spec_from_description
from stacking.model import FittedStack


def _load_stack(vb: VerifiedBundle, prefix: str) -> FittedStack:
    """FittedStack.load on a private copy of the verified stack files (JSON/LightGBM text)."""
    tmp = Path(tempfile.mkdtemp(prefix="ensembler-stack-"))
    try:
        for name, data in vb.files.items():
            if name.startswith(prefix + "/"):
                (tmp / name[len(prefix) + 1:]).write_bytes(data)
        return FittedStack.load(tmp)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise BundleIntegrityError(f"{vb.source}/{prefix}: unreadable stack ({exc})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Bundle:
    """A verified, loaded bundle.

    Attributes:
        manifest: the verified manifest (dict).
        members: the members, each with one model per level-0 set (K folds or 1 full).
        stack: the fitted meta-learner (with its calibrator).
        thresholds: (C,) operating thresholds; decision = probability >= threshold.
        preprocessing: the training preprocessing spec (fs, duration, leads, band-pass).
        backend: ``torch`` or ``onnx`` (members scored with ONNX Runtime).
    """

    manifest: dict[str, Any]
    members: list[BundleMember | FeatureBundleMember]
    stack: FittedStack
    thresholds: np.ndarray
    preprocessing: PreprocessingConfig
    backend: str = "torch"
    source: Path | None = None

    @cached_property
    def imputer(self) -> TabularImputer:
        """Fill values for missing tabular inputs, from the fitted state (see imputation)."""
        return build_imputer(self.manifest, self.members, str(self.source or "bundle"))

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["task"]["class_names"])

    @property
    def lead_names(self) -> list[str]:
        return list(self.manifest["input"]["lead_names"])

    @property
    def n_samples(self) -> int:
        return int(self.manifest["input"]["n_samples"])

    @property
    def tabular_names(self) -> list[str]:
        """Tabular inputs, in the column order ``predict_proba`` expects."""
        return list(self.manifest["input"]["tabular"]["names"])

    @property
    def member_mode(self) -> str:
        return str(self.manifest["members"]["mode"])

    @property
    def n_sets(self) -> int:
        """Number of level-0 sets: K in fold-average mode, 1 in refit-full mode."""
        return len(self.members[0].models)

    @property
    def digest(self) -> str:
        return str(self.manifest["manifest_digest"])

    def _check(self, signals: np.ndarray, tabular: np.ndarray | None) -> np.ndarray | None:
        want = (len(self.lead_names), self.n_samples)
        if signals.ndim != 3 or signals.shape[1:] != want:
            raise DataError(f"signals: expected (N, {want[0]}, {want[1]}) preprocessed as in "
                            f"training, got {signals.shape}")
        f = len(self.tabular_names)
        if tabular is None:
            return np.full((signals.shape[0], f), np.nan, np.float32) if f else None
        tab = np.asarray(tabular, np.float32)
        if tab.shape != (signals.shape[0], f):
            raise DataError(f"tabular: expected ({signals.shape[0]}, {f}) in the order "
                            f"{self.tabular_names}, got {tab.shape}")
        return tab

    def _columns(self, tab: np.ndarray | None, names: Sequence[str], n: int
                 ) -> np.ndarray | None:
        """Columns ``names`` of the input table ``tab`` (N, F); NaN where not an input."""
        if not names:
            return None
        out = np.full((n, len(names)), np.nan, np.float32)
        for j, name in enumerate(names):
            if tab is not None and name in self.tabular_names:
                out[:, j] = tab[:, self.tabular_names.index(name)]
        return out

    def level0(self, signals: np.ndarray, tabular: np.ndarray | None = None,
               impute: bool = False) -> dict[str, np.ndarray]:
        """Member probabilities per level-0 set: member -> (n_sets, N, C).

        ``impute``: fill missing tabular values with each fold model's fitted state.
        """
        tab = self._check(signals, tabular)
        out = {}
        for m in self.members:
            t = self._columns(tab, m.tabular_names, signals.shape[0])
            sets = [self.imputer.fill_member(m.name, k, t) if impute else t
                    for k in range(len(m.models))]
            out[m.name] = m.predict_sets(signals, sets, self.backend)
        return out

    def combine(self, level0: dict[str, np.ndarray], tabular: np.ndarray | None = None,
                impute: bool = False) -> np.ndarray:
        """Stack each level-0 set and average over sets.

        ``level0``: member -> (n_sets, N, C); ``tabular``: (N, F) inputs or None.
        Returns (N, C) calibrated probabilities.
        """
        n = next(iter(level0.values())).shape[1]
        stab = (self._columns(tabular, self.stack.tabular_names, n)
                if self.stack.spec.passthrough else None)
        if impute:
            stab = self.imputer.fill_stack(stab, self.stack.tabular_names)
        outs = [self.stack.predict_level0({m: v[k] for m, v in level0.items()}, stab)
                for k in range(self.n_sets)]
        return np.asarray(np.mean(outs, axis=0), dtype=np.float64)

    def predict_proba(self, signals: np.ndarray, tabular: np.ndarray | None = None,
                      batch_size: int = 256, missing: str = "error",
                      record_ids: Sequence[str] | None = None) -> np.ndarray:
        """Calibrated ensemble probabilities.

        Parameters
        ----------
        signals : (N, leads, samples) float32, preprocessed with ``self.preprocessing``
            (lead order ``lead_names``); use :func:`ensembler.bundle.records.load_records`
            to get them from WFDB files.
        tabular : (N, F) raw tabular values in the order ``tabular_names`` (NaN = missing),
            or None when none is known.
        missing : what to do with missing required tabular values: ``error`` (raise
            DataError naming records and columns), ``impute`` (fitted state, see
            :mod:`ensembler.bundle.imputation`) or ``as-trained`` (the models' own missing
            path; for reproducing a run's predictions).
        record_ids : names of the N records, for the error message.

        Returns
        -------
        (N, C) float64 probabilities; each record is scored independently of the others.
        """
        signals = np.asarray(signals, np.float32)
        tab = self._check(signals, tabular)
        if tab is not None:
            ids = list(record_ids) if record_ids is not None else \
                [f"row {i}" for i in range(signals.shape[0])]
            require_tabular(ids, missing_mask(tab, len(ids), tab.shape[1]),
                            self.tabular_names, missing)
        impute = missing == "impute"
        parts = []
        for lo in range(0, signals.shape[0], batch_size):
            sl = slice(lo, lo + batch_size)
            t = None if tab is None else tab[sl]
            parts.append(self.combine(self.level0(signals[sl], t, impute), t, impute))
        if not parts:
            return np.zeros((0, len(self.class_names)))
        return np.concatenate(parts, axis=0)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """(N, C) 0/1 decisions at the bundle's thresholds (positive when p >= threshold)."""
        thr = np.where(np.isfinite(self.thresholds), self.thresholds, np.inf)
        return (np.asarray(proba) >= thr[None, :]).astype(np.uint8)


def _onnx_sessions(vb: VerifiedBundle) -> dict[str, Any]:
    """One ONNX Runtime session per fold model's ONNX file (no spinning threads)."""
    import onnxruntime as ort

    man = vb.manifest
    if not man.get("onnx", {}).get("enabled"):
        raise DataError(f"{vb.source}: bundle has no ONNX members; export with --onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, _torch_threads())
    opts.inter_op_num_threads = 1
    # no busy-waiting between runs: spinning ORT threads starve torch and other work
    # in the same process (measured: torch eager 10x slower at batch 1 beside them)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions: dict[str, Any] = {}
    for entry in man["members"]["list"]:
        for mdl in entry["models"] if not is_feature_entry(entry) else []:
            sessions[mdl["onnx"]] = ort.InferenceSession(
                vb.files[mdl["onnx"]], opts, providers=["CPUExecutionProvider"])
    return sessions


def _load_members(vb: VerifiedBundle, sessions: dict[str, Any], allow_arch: Collection[str]
                  ) -> list[BundleMember | FeatureBundleMember]:
    """The manifest's members in order: network members with their fold models (and ONNX
    sessions when loaded for that backend), feature members with their boosters."""
    man = vb.manifest
    n_leads = len(man["input"]["lead_names"])
    n_classes = len(man["task"]["class_names"])
    members: list[BundleMember | FeatureBundleMember] = []
    for entry in man["members"]["list"]:
        if is_feature_entry(entry):
            members.append(load_feature_member(entry, vb.files, man["input"]["lead_names"],
                                               man["input"]["fs"], n_classes, allow_arch,
                                               str(vb.source)))
            continue
        spec = spec_from_description(entry["spec"])
        bm = BundleMember(spec=spec, window=entry["window"], stride=entry["stride"])
        for mdl in entry["models"]:
            fm = load_fold_model(spec, mdl["label"], vb.files[mdl["weights"]],
                                 vb.text(mdl["state"]), n_leads, n_classes,
                                 f"{vb.source}/{mdl['weights']}", allow_arch)
            fm.onnx = sessions.get(mdl.get("onnx", ""))
            bm.models.append(fm)
        members.append(bm)
    return members


def load_bundle(path: str | Path, backend: str = "torch",
                expect_digest: str | None = None,
                allow_arch: Collection[str] = ()) -> Bundle:
    """Verify and load a bundle folder or zip.

    Parameters
    ----------
    path : bundle folder or ``.zip``
    backend : ``torch`` (default) or ``onnx`` (needs a bundle exported with ``--onnx``)
    expect_digest : optional manifest digest published by the exporter
    allow_arch : user architectures and feature sets (``module.path:callable``) the
        loading user trusts; any other unregistered one is refused before anything is
        imported

    Raises
    ------
    BundleIntegrityError
        Unknown format version, edited manifest, an unlisted/missing/disallowed file,
        a pickle-like file, a hash mismatch, an architecture neither registered nor
        allowed, or weights that do not fit; names the file.
    """
    if backend not in ("torch", "onnx"):
        raise ValueError(f"backend: expected 'torch' or 'onnx', got {backend!r}")
    vb = read_verified(path, expect_digest)
    man = vb.manifest
    check_architectures(man, allow_arch, str(vb.source))
    sessions = _onnx_sessions(vb) if backend == "onnx" else {}
    members = _load_members(vb, sessions, allow_arch)
    stack = _load_stack(vb, man["stack"]["dir"])
    if list(stack.spec.members) != [m.name for m in members]:
        raise BundleIntegrityError(f"{vb.source}/{MANIFEST}: members "
                                   f"{[m.name for m in members]} differ from the stack's "
                                   f"{list(stack.spec.members)}")
    thr = np.array([np.nan if v is None else float(v)
                    for v in man["operating"]["thresholds"]], dtype=np.float64)
    prep = PreprocessingConfig.model_validate(man["input"]["preprocessing"])
    return Bundle(manifest=man, members=members, stack=stack, thresholds=thr,
                  preprocessing=prep, backend=backend, source=vb.source)



def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())
