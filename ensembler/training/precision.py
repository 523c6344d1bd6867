"""Training precision: when bf16 autocast is used, decided from what the hardware reports.

bf16 autocast is fast only where the hardware has bf16 arithmetic: CUDA GPUs, and
CPUs whose ``/proc/cpuinfo`` flags list ``avx512_bf16`` or ``amx_bf16`` (oneDNN then
runs convolutions and matmuls in bf16). Elsewhere bf16 is emulated and slower than
fp32, so ``auto`` never assumes it. Even with native bf16, a CPU gains only on networks
whose arithmetic outweighs the casts: measured on this project's 2-core AVX512-BF16
CPU (bench/bench_train_speed.py, one thread, PTB-XL-profile shapes, three contended runs),
the training step ran 1.3-2.5x faster in bf16 for cnn1d, resnet1d, xresnet1d and
inception1d (33-470 MFLOP per 2.5 s crop) in every run; vit1d (about 4 MFLOP) ran at
0.34-0.48x; cnn_lstm and ts_cnn (about 4 MFLOP) were mixed (0.7x in one run, 1.1-1.35x
by CPU time in two) and are a small share of training time. ``auto`` therefore uses
bf16 on such a CPU only above ``CPU_BF16_MIN_MFLOP``.
Autocast covers the training forward pass and the inner-validation pass; out-of-fold
and test predictions stay in fp32 on CPU.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
CPU_BF16_MIN_MFLOP = 12.0  # forward MFLOP per input window; between the 4 and 33 measured


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The flags of the first CPU in /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU reports native bf16 arithmetic (AVX512-BF16 or AMX-BF16)."""
    have = cpu_flags() if flags is None else flags
    return any(f in have for f in BF16_CPU_FLAGS)


def forward_mflop(model: nn.Module, n_leads: int, window: int, n_tabular: int) -> float:
    """Forward MFLOP of ``model`` for one (n_leads, window) input (torch's FLOP counter:
    convolutions, matmuls and attention; recurrent cells are not counted)."""
    x = torch.zeros(1, n_leads, window)
    t = torch.zeros(1, n_tabular) if n_tabular else None
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with counter, torch.no_grad():
            model(x, t)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 1e6


def autocast_dtype(precision: str, device: torch.device, mflop: float | None = None,
                   flags: frozenset[str] | None = None) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: plain fp32).

    ``fp32``: never autocast. ``bf16``: always (on a CPU without native bf16 this is
    emulated and slow, but it is what was asked). ``auto``: bf16 on CUDA; on a CPU, bf16
    when it reports AVX512-BF16/AMX-BF16 and the network's forward cost ``mflop`` (per
    input window) is at least ``CPU_BF16_MIN_MFLOP``; fp32 otherwise.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise ValueError(f"training.precision: expected auto, fp32 or bf16, got {precision!r}")
    if device.type == "cuda":
        return torch.bfloat16
    if (device.type == "cpu" and cpu_has_bf16(flags) and mflop is not None
            and mflop >= CPU_BF16_MIN_MFLOP):
        return torch.bfloat16
    return None


def choose_autocast(precision: str, device: torch.device, model: nn.Module, n_leads: int,
                    window: int, n_tabular: int) -> torch.dtype | None:
    """:func:`autocast_dtype` for ``model``; counts its FLOPs only when the rule needs them."""
    needs_flops = precision == "auto" and device.type == "cpu" and cpu_has_bf16()
    mflop = forward_mflop(model, n_leads, window, n_tabular) if needs_flops else None
    return autocast_dtype(precision, device, mflop)
