"""Session-wide test settings: one torch thread per process keeps the 2-core CI quiet."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)
