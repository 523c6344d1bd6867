"""Data efficiency: test AUC vs the fraction of development patients used for training.

For each chosen member and fraction, one model is trained on a random subset of the
development patients (nested: the 10 % patients are inside the 25 % ones, ...), with
early stopping on an inner split carved from that subset, and scored on the test set.
Nothing is chosen from these numbers; they are reported as a curve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.errors import ConfigError
from ensembler.pipeline.context import RunContext
from ensembler.pipeline.stage import Stage
from ensembler.pipeline.train import tuned_parameters
from ensembler.training.inner import inner_split
from ensembler.training.jobs import member_tabular
from ensembler.training.loop import fit_model, resolve_device, window_lengths
from ensembler.training.members import MemberSpec
from ensembler.training.metrics import macro_auc
from ensembler.training.runner import member_specs
from ensembler.training.windows import predict_windows
from ensembler.utils.atomic import write_text
from ensembler.utils.seeds import derive_seed


def run_data_efficiency(ctx: RunContext) -> pd.DataFrame | None:
    """Write ``report/data_efficiency.csv`` (arch, fraction, n_patients, test_auc)."""
    cfg, cohort, split = ctx.cfg, ctx.cohort, ctx.split
    wanted = cfg.report.data_efficiency
    if not wanted:
        return None
    specs = {s.name: s for s in member_specs(cfg, cohort, tuned_parameters(ctx))}
    unknown = [w for w in wanted if w not in specs]
    if unknown:
        raise ConfigError(f"report.data_efficiency: unknown members {unknown}; "
                          f"known: {sorted(specs)}")
    out = ctx.run_dir / "efficiency" / "data_efficiency.csv"
    return Stage(
        "data efficiency", out.with_name("stage.json"),
        inputs={"members": [specs[w].describe() for w in wanted], "seed": cfg.seed,
                "fractions": cfg.report.data_efficiency_fractions,
                "cohort": cohort.fingerprint, "split": split.fingerprint},
        run=lambda: (_curve(ctx, [specs[w] for w in wanted], out), {}),
        load=lambda _: pd.read_csv(out), outputs=[out], say=ctx.say).execute()


def _curve(ctx: RunContext, specs: list[MemberSpec], out: Path) -> pd.DataFrame:
    """Train each member on growing fractions of the development patients; test AUCs."""
    cfg, cohort, split = ctx.cfg, ctx.cohort, ctx.split
    dev = np.flatnonzero(split.fold >= 0)
    test = np.flatnonzero(split.fold == -1)
    patients = np.unique(cohort.patient_id[dev])
    order = np.random.default_rng(derive_seed(cfg.seed, "efficiency")).permutation(patients)
    rows = []
    for spec in specs:
        name = spec.name
        tab = member_tabular(cohort, spec.tabular_names)
        device = resolve_device(spec.training.device)
        for frac in sorted(cfg.report.data_efficiency_fractions):
            keep = set(order[: max(4, round(frac * len(order)))])
            idx = dev[np.isin(cohort.patient_id[dev], list(keep))]
            seed = derive_seed(cfg.seed, "efficiency", name, frac)
            tr, va = inner_split(idx, cohort.labels, cohort.patient_id,
                                 spec.training.inner_val_fraction, seed)
            res = fit_model(spec, cohort.signals, cohort.labels, tab, cohort.fs, tr, va, seed,
                            device=device, log=None)
            win, stride = window_lengths(spec, cohort.fs, cohort.signals.shape[-1])
            x = res.state.transform_signals(cohort.signals[test])
            t = res.state.transform_tabular(None if tab is None else tab[test])
            p = predict_windows(res.model, x, t, win, stride, spec.training.eval_aggregate,
                                device=device)
            auc = macro_auc(cohort.labels[test], p)
            print(f"[data efficiency] {name} {frac:.0%} of dev patients ({len(keep)}): "
                  f"test AUC {auc:.3f}")
            rows.append({"arch": name, "fraction": frac, "n_patients": len(keep),
                         "test_auc": auc})
    frame = pd.DataFrame(rows)
    write_text(out, frame.to_csv(index=False))
    return frame
