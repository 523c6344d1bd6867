"""Regenerate docs/explain_example.png: ``ensembler explain``'s figure on a synthetic ECG.

A synthetic cohort (``ensembler.data.synth``) in which the condition is planted ONLY
as Q waves in V1-V3 (every other effect set to 0, no label noise); a small CNN is
trained on it for a few epochs; the figure is drawn for the first positive test-side
record with the same code as ``ensembler explain`` (one member, so the stack map is
that member's Integrated Gradients map). Run:
``PYTHONPATH=. .venv/bin/python docs/explain_example.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from base_models import create_model
from ensembler.bundle.members import BundleMember, FoldModel, spec_from_description
from ensembler.config import RunConfig, TrainingConfig
from ensembler.explain.attribution import lead_importance, member_attribution
from ensembler.explain.figure import record_png
from ensembler.explain.records import RecordExplanation
from ensembler.pipeline.context import RunContext
from ensembler.training.state import FoldState

OUT = Path(__file__).resolve().parent / "explain_example.png"
EFFECTS = {k: 0.0 for k in ("low_qrs_voltage", "qt_prolongation", "irregular_rhythm",
                            "axis_deviation", "age_prior", "sex_prior")}


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    run_dir = Path(tempfile.mkdtemp()) / "run"
    cfg = RunConfig.model_validate({
        "name": "explain-example", "seed": 0, "run_dir": str(run_dir),
        "data": {"source": "synthetic", "synthetic": {
            "n_patients": 300, "ecgs_per_patient": [1, 1], "duration_s": 10,
            "effects": {**EFFECTS, "q_waves_v1_v3": 3.0, "label_noise": 0.0}},
            "preprocessing": {"fs": 100, "duration_s": 10}},
        "split": {"n_folds": 2, "duplicate_check": "off"},
        "models": [{"name": "cnn", "arch": "cnn1d", "params": {"filters": [16, 16, 16]}}]})
    ctx = RunContext.create(cfg, run_dir, progress=False)
    c = ctx.cohort
    x = np.asarray(c.signals, np.float32)
    y = c.labels[:, :1].astype(np.float32)
    train, show = np.arange(len(x) - 40), np.arange(len(x) - 40, len(x))
    state = FoldState.fit(x[train], None, [])
    model = create_model("cnn1d", n_leads=12, n_classes=1, filters=[16, 16, 16])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt = torch.from_numpy(state.transform_signals(x[train]))
    yt = torch.from_numpy(y[train])
    for _ in range(15):
        for lo in range(0, len(train), 32):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(
                model(xt[lo:lo + 32], None), yt[lo:lo + 32]).backward()
            opt.step()
    model.eval()
    spec = spec_from_description({"name": "cnn", "arch": "cnn1d", "params": {},
                                  "training": TrainingConfig().model_dump(mode="json")})
    member = BundleMember(spec=spec, window=None, stride=None,
                          models=[FoldModel("fold_0", model, state)])
    i = int(show[np.flatnonzero(y[show, 0] == 1)[0]])
    attr = member_attribution(member, x[i:i + 1], None, 0, "ig", 32)[0]
    p = float(member.predict(0, x[i:i + 1], None)[0, 0])
    exp = RecordExplanation(record=str(c.record_id[i]), class_name=c.class_names[0],
                            probability=p, signal=x[i], member_maps={"cnn": attr},
                            member_probability={"cnn": p}, shares={"cnn": 1.0}, bias=0.0,
                            scale="single member", stack_method="one member",
                            stack_map=attr)
    imp = lead_importance(attr[None])[0]
    pairs = zip(c.lead_names, imp, strict=True)
    print("per-lead importance:", {n: round(float(v), 6) for n, v in pairs})
    OUT.write_bytes(record_png(exp, list(c.lead_names), c.fs))
    print(f"{OUT} written")


if __name__ == "__main__":
    main()
