"""Random-crop augmentation and sliding-window evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ensembler.config import AugmentConfig
from ensembler.training.state import FoldState


def to_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """``a`` as a tensor on ``device``; on CUDA copied through pinned memory, asynchronously."""
    t = torch.from_numpy(np.ascontiguousarray(a))
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t


def window_starts(n_samples: int, window: int, stride: int) -> list[int]:
    """Start indices of sliding windows covering ``n_samples``; the last window ends at the end."""
    if window >= n_samples:
        return [0]
    starts = list(range(0, n_samples - window + 1, max(1, stride)))
    if starts[-1] != n_samples - window:
        starts.append(n_samples - window)
    return starts


def random_crop(x: np.ndarray, window: int | None, rng: np.random.Generator,
                rows: np.ndarray | None = None) -> np.ndarray:
    """Records ``rows`` of ``x`` (N, leads, T), each cropped at a random offset.

    Returns (len(rows), leads, window) (all records when ``rows`` is None). Only the
    cropped samples are copied, never the full records.
    """
    idx = np.arange(x.shape[0]) if rows is None else np.asarray(rows)
    if window is None or window >= x.shape[-1]:
        return np.ascontiguousarray(x[idx])
    offsets = rng.integers(0, x.shape[-1] - window + 1, size=len(idx))
    views = np.lib.stride_tricks.sliding_window_view(x, window, axis=2)  # (N, L, T-w+1, w)
    return np.ascontiguousarray(views[idx, :, offsets])


def crop_batch(signals: np.ndarray, rows: np.ndarray, window: int | None,
               rng: np.random.Generator, state: FoldState) -> np.ndarray:
    """Standardised random crops (len(rows), leads, window) of raw records ``rows``.

    ``signals`` is the raw (N, leads, T) array (a memmap of the cache, usually); only
    the cropped samples are read and standardised. Bitwise equal to cropping the
    standardised records with the same ``rng`` (the scaling is per-lead elementwise).
    """
    return state.transform_signals(random_crop(signals, window, rng, rows=rows))


def augment(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Amplitude scaling and Gaussian noise (in standardised units), per record."""
    if cfg.amplitude_scale > 0:
        scale = rng.uniform(1 - cfg.amplitude_scale, 1 + cfg.amplitude_scale, size=x.shape[0])
        x = x * np.asarray(scale, np.float32)[:, None, None]
    if cfg.noise_std > 0:
        x = x + rng.normal(0.0, cfg.noise_std, size=x.shape).astype(np.float32)
    return x.astype(np.float32, copy=False)


@torch.no_grad()
def predict_windows(
    model: torch.nn.Module,
    signals: np.ndarray,
    tabular: np.ndarray | None,
    window: int | None,
    stride: int | None,
    aggregate: str = "mean",
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    autocast: bool = False,
) -> np.ndarray:
    """Probabilities (N, C) from sliding windows aggregated by mean or max.

    ``signals`` (N, leads, T) must already be standardised with the fold state. Every
    record is processed independently of the others, so a record gives the same
    output alone as inside a batch (up to float summation order).
    """
    model.eval()
    n, _, t = signals.shape
    win = t if window is None or window >= t else window
    starts: Sequence[int] = window_starts(t, win, stride or max(1, win // 2))
    out: list[np.ndarray] = []
    dev = torch.device(device)
    rec_per_batch = max(1, batch_size // len(starts))
    for lo in range(0, n, rec_per_batch):
        xb = np.asarray(signals[lo : lo + rec_per_batch], dtype=np.float32)
        b = xb.shape[0]
        windows = np.stack([xb[:, :, s : s + win] for s in starts], axis=1)  # (b, W, L, win)
        xt = to_device(windows.reshape(b * len(starts), xb.shape[1], win), dev)
        tt = None
        if tabular is not None:
            tb = np.asarray(tabular[lo : lo + rec_per_batch], dtype=np.float32)
            tt = to_device(np.repeat(tb, len(starts), axis=0), dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(xt, tt)
        probs = torch.sigmoid(logits.float()).reshape(b, len(starts), -1)
        agg = probs.mean(dim=1) if aggregate == "mean" else probs.amax(dim=1)
        out.append(agg.cpu().numpy())
    return np.concatenate(out, axis=0).astype(np.float32)
