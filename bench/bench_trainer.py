"""Framework training step vs a bare PyTorch loop over the same model and tensors.

Both train the same architecture (same initialisation) for the same number of epochs
on the same in-memory records, with the same batch size, random 2.5 s crops, AdamW,
one-cycle schedule and gradient clipping. The framework side is
``ensembler.training.loop.fit_model`` without a validation split (so no evaluation
is timed); the bare side is the textbook loop written inline here. The overhead ratio
is framework / bare over medians of interleaved repeated runs (target <= 1.05).
Both sides run under ``torch.use_deterministic_algorithms(True)`` once the framework
has run (it turns it on for CPU determinism), so the ratio is the loop's own cost.

Run: ``.venv/bin/python bench/bench_trainer.py [--quick] [--records 2000 --epochs 2]``
(writes ``bench/results/trainer.json``; headline: framework / bare wall-time ratio)
"""

from __future__ import annotations

import argparse
import sys

import _timing  # noqa: F401  # first: sets OMP_WAIT_POLICY before torch loads
import numpy as np
import torch
from _timing import interleaved, make_result, monitor_load, ratio, write_result
from torch import nn

from ensembler.config import RunConfig
from ensembler.training.loop import build_model, fit_model
from ensembler.training.members import expand_entry


def bare_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, bs: int,
              window: int, lr: float, seed: int) -> None:
    """The reference loop: random crop, forward, BCE, backward, clip, AdamW, one-cycle."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * int(np.ceil(len(x) / bs))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for lo in range(0, len(x), bs):
            b = perm[lo:lo + bs]
            off = int(torch.randint(0, x.shape[-1] - window + 1, (1,), generator=gen))
            xb = x[b, :, off:off + window]
            loss = loss_fn(model(xb), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--arch", default="resnet1d")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="500 records, 1 epoch, 3 repeats")
    args = ap.parse_args()
    if args.quick:
        args.records, args.epochs, args.repeats = 500, 1, 3
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    signals = rng.normal(size=(args.records, 12, 1000)).astype(np.float32)
    labels = (rng.random((args.records, 5)) < 0.3).astype(np.uint8)
    cfg = RunConfig.model_validate({
        "training": {"epochs": args.epochs, "batch_size": 64, "lr": 1e-3, "crop_s": 2.5,
                     "device": "cpu", "precision": "fp32"},
        "models": [{"name": "m", "arch": args.arch, "params": {"width": 64}}],
    })
    spec = expand_entry(cfg.models[0], cfg, [])[0]
    idx = np.arange(args.records)

    def framework() -> None:
        fit_model(spec, signals, labels, None, 100.0, idx, None, seed=0, log=None)

    x = torch.from_numpy(signals)
    y = torch.from_numpy(labels.astype(np.float32))

    def bare() -> None:
        torch.manual_seed(0)
        model = build_model(spec, 12, 5)
        bare_loop(model, x, y, args.epochs, 64, 250, 1e-3, 0)

    with monitor_load() as mon:
        med = interleaved({"framework": framework, "bare": bare}, args.repeats, warmup=1)
    result = make_result(
        "trainer", quick=args.quick, command=" ".join(["python", *sys.argv]),
        headline={"label": "fit_model / bare loop wall time", "ratio": ratio(med, "framework",
                                                                              "bare"),
                  "better": "lower", "target": 1.05},
        medians=med, load=mon.summary(args.threads),
        details={"arch": args.arch, "records": args.records, "epochs": args.epochs,
                 "cpu_ratio": ratio(med, "framework", "bare", "cpu_s")})
    write_result(result)


if __name__ == "__main__":
    main()
