"""Member-mode evidence: each member's development OOF AUC at shares of its fold models'
training patients, the figure and the sentences that cite it.

The curve is written by :mod:`ensembler.pipeline.mode_evidence` as
``efficiency/member_mode_evidence.csv`` (one :class:`EvidencePoint` per member and
fraction, 100 % being the member's own out-of-fold predictions) and read here by the
report and by the bundle export, whose member-mode reason cites it. No test row is
read to make it.

Refit-full models are trained on all development patients, ``K/(K−1)`` times a fold
model's training part. The step from the largest measured fraction (75 % by default) to
100 % is the measured gain; the refit-full point is only extrapolated from it
(log-linear in the number of patients: a learning curve that flattens gains less), and
is drawn and worded as an extrapolation, never as a measurement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from ensembler.errors import StageError
from ensembler.report.document import Block, Figure, Paragraph
from ensembler.report.figures import _png
from ensembler.training.predictions import MemberPredictions
from ensembler.utils.atomic import write_text
from ensembler.utils.hashing import array_digest

__all__ = ["CSV", "EvidencePoint", "ModeEvidence", "current_evidence", "mode_evidence_blocks",
           "mode_evidence_figure", "oof_digest"]

#: Where the curve lives in a run directory.
CSV = Path("efficiency") / "member_mode_evidence.csv"


def oof_digest(oof: np.ndarray) -> str:
    """Short digest of a member's (N_dev, C) OOF: evidence made on other OOF is stale."""
    return array_digest(np.asarray(oof))[:16]


@dataclass(frozen=True)
class EvidencePoint:
    """One member at one share of its fold models' training patients (development data).

    ``fraction``: of each fold's training part (1.0: the member's own OOF);
    ``dev_share``: mean share of all development patients a fold model trained on (inner
    early-stopping split included); ``n_patients``: mean patients per fold model;
    ``oof_auc`` [``oof_auc_lo``, ``oof_auc_hi``]: pooled out-of-fold macro AUC with its
    patient-bootstrap CI; ``gain_to_full`` [``gain_lo``, ``gain_hi``]: AUC at 100 % minus AUC
    here, paired patient bootstrap; ``oof_digest``: of the member's own OOF (see
    :func:`oof_digest`); ``n_folds``: K."""

    member: str
    fraction: float
    dev_share: float
    n_patients: float
    oof_auc: float
    oof_auc_lo: float
    oof_auc_hi: float
    gain_to_full: float
    gain_lo: float
    gain_hi: float
    oof_digest: str
    n_folds: int


@dataclass(frozen=True)
class ModeEvidence:
    """The learning curve of every member in ``efficiency/member_mode_evidence.csv``."""

    points: list[EvidencePoint]

    @property
    def members(self) -> list[str]:
        return list(dict.fromkeys(p.member for p in self.points))

    @property
    def n_folds(self) -> int:
        return self.points[0].n_folds

    def curve(self, member: str) -> list[EvidencePoint]:
        return sorted((p for p in self.points if p.member == member), key=lambda p: p.fraction)

    def step(self, member: str) -> EvidencePoint:
        """The largest measured fraction below 100 %: its gain is the last measured step."""
        return [p for p in self.curve(member) if p.fraction < 1][-1]

    def refit_gain(self, member: str) -> float:
        """Extrapolated AUC gain of a refit-full model over a fold model: the last step's
        gain per log-patients times log(K/(K−1)). An extrapolation, not a measurement."""
        p = self.step(member)
        return p.gain_to_full * math.log(self.n_folds / (self.n_folds - 1)) / \
            math.log(1 / p.fraction)

    def restricted(self, oof: Mapping[str, np.ndarray]) -> ModeEvidence | None:
        """The members whose evidence was made on the OOF they have now (``oof``: (N_dev, C)
        OOF by member name); None when no member is left."""
        keep = [p for p in self.points if p.member in oof and oof_digest(oof[p.member])
                == p.oof_digest]
        return ModeEvidence(keep) if keep else None

    def summary(self) -> str:
        """The measured step per member and what it implies for refit-full models."""
        k = self.n_folds
        fracs = {self.step(m).fraction for m in self.members}
        start = f"{fracs.pop():.0%}" if len(fracs) == 1 else "the largest measured share"
        steps = ", ".join(f"{m} {_signed(p.gain_to_full)} [{_signed(p.gain_lo)}, "
                          f"{_signed(p.gain_hi)}]"
                          for m, p in ((m, self.step(m)) for m in self.members))
        gaining = [m for m in self.members if self.step(m).gain_lo > 0]
        refit = (f"Refit-full models, trained on all development patients ({k}/{k - 1} = "
                 f"{k / (k - 1):.2f}× a fold's training part), ")
        if gaining:
            guess = ", ".join(f"{m} {_signed(self.refit_gain(m))}" for m in gaining)
            refit += (f"are expected to gain where the step's CI is above 0 (log-linear "
                      f"extrapolation, not a measurement: {guess})")
        else:
            refit += "are not expected to gain clearly: no member's step has a CI above 0"
        return (f"development OOF macro AUC from {start} to 100% of each fold's training "
                f"patients (paired patient bootstrap): {steps}. {refit}")

    def write_csv(self, path: Path) -> None:
        write_text(path, pd.DataFrame([asdict(p) for p in self.points]).to_csv(index=False))

    @classmethod
    def read_csv(cls, path: Path) -> ModeEvidence | None:
        """The evidence in ``path``; None when the file does not exist."""
        if not path.is_file():
            return None
        frame = pd.read_csv(path, dtype={"member": str, "oof_digest": str})
        names = [f.name for f in fields(EvidencePoint)]
        missing = [n for n in names if n not in frame.columns]
        if missing or frame.empty:
            raise StageError(f"{path}: expected columns {names}, missing {missing or 'rows'}; "
                             "rerun `ensembler evidence`")
        return cls([EvidencePoint(**{n: r[n] for n in names})
                    for r in frame[names].to_dict("records")])


def current_evidence(run_dir: Path) -> ModeEvidence | None:
    """The run's evidence, restricted to members whose predictions are unchanged since it was
    made (``predictions/<member>.npz``); None when there is none."""
    ev = ModeEvidence.read_csv(run_dir / CSV)
    if ev is None:
        return None
    paths = {m: run_dir / "predictions" / f"{m}.npz" for m in ev.members}
    return ev.restricted({m: MemberPredictions.load(p).oof for m, p in paths.items()
                          if p.is_file()})


def _signed(v: float) -> str:
    return f"{v:+.3f}".replace("-", "−")


def mode_evidence_figure(ev: ModeEvidence) -> bytes:
    """OOF AUC (with CI) vs the share of development patients, one line per member; the
    refit-full share (all development patients) is marked as an extrapolation target."""
    fig = MplFigure(figsize=(6.2, 4.2), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for i, m in enumerate(ev.members):
        pts = ev.curve(m)
        x = [100 * p.dev_share for p in pts]
        y = [p.oof_auc for p in pts]
        err = [[p.oof_auc - p.oof_auc_lo for p in pts], [p.oof_auc_hi - p.oof_auc for p in pts]]
        ax.errorbar(x, y, yerr=err, marker="o", ms=4, capsize=2, c=f"C{i}", label=m)
        ax.plot([x[-1], 100], [y[-1], y[-1] + ev.refit_gain(m)], ls=":", c=f"C{i}")
        ax.plot([100], [y[-1] + ev.refit_gain(m)], marker="o", mfc="white", c=f"C{i}")
    ax.axvline(100, c="grey", ls="--", lw=0.8)
    ax.annotate("refit-full: all development patients\n(extrapolation target, not measured)",
                (100, 0.02), xycoords=("data", "axes fraction"), ha="right", fontsize=7)
    ax.set(xlabel="development patients per model (%; fold models: the points)",
           ylabel="development OOF macro AUC",
           title="Member-mode evidence: OOF AUC vs training patients")
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def mode_evidence_blocks(ev: ModeEvidence) -> list[Block]:
    """The report's figure and its one-sentence reading."""
    return [Figure("member_mode_evidence",
                   "Member-mode evidence: development OOF AUC vs patients per model "
                   "(hollow: refit-full, extrapolated)", mode_evidence_figure(ev)),
            Paragraph(f"Member-mode evidence ({CSV}): {ev.summary()}. The bundle's member "
                      "mode cites this; nothing here reads the test set.")]
