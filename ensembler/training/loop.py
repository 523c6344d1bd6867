"""The fold trainer: AdamW, one-cycle/cosine, BCE-with-logits, early stopping.

Early stopping and best-epoch selection use an inner validation split carved out
of the fold's training part by the caller, never the out-of-fold rows or the test
set. Signal and tabular scaling are fitted here on the training rows only.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from base_models import param_groups
from ensembler.training.members import MemberSpec
from ensembler.training.metrics import bce_from_probs, macro_auc
from ensembler.training.precision import choose_autocast
from ensembler.training.soft_targets import SoftTargets
from ensembler.training.state import FoldState
from ensembler.training.windows import augment, crop_batch, predict_windows, to_device

EpochCallback = Callable[[int, dict[str, float]], None]
"""Called after each epoch with (epoch, row); may raise (e.g. optuna.TrialPruned)."""


@dataclass
class FitResult:
    model: nn.Module
    state: FoldState
    curve: pd.DataFrame  # epoch, train_loss, val_loss, val_auc, lr, seconds
    best_epoch: int  # 1-based
    seconds: float
    n_params: int
    autocast: str = "fp32"  # "bf16" when training ran under bf16 autocast


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_model(spec: MemberSpec, n_leads: int, n_classes: int,
                allow_user: Collection[str] | None = None) -> nn.Module:
    """Instantiate the member's architecture through the base_models registry.

    ``allow_user``: user architectures (``module:callable``) that may be imported; None
    allows any (the run's own config named it), a bundle loader passes the loading
    user's ``--allow-arch`` list.
    """
    from base_models import create_model

    params = dict(spec.params)
    if spec.training.dropout is not None:
        params.setdefault("dropout", spec.training.dropout)
    return create_model(
        spec.arch,
        n_leads=n_leads,
        n_classes=n_classes,
        n_tabular=len(spec.tabular_names),
        fusion=spec.fusion,
        allow_user=allow_user,
        **params,
    )


def window_lengths(spec: MemberSpec, fs: float, n_samples: int) -> tuple[int | None, int | None]:
    """(crop window, eval stride) in samples for this member."""
    t = spec.training
    if t.crop_s is None:
        return None, None
    win = min(n_samples, round(t.crop_s * fs))
    stride = round(t.eval_stride_s * fs) if t.eval_stride_s else max(1, win // 2)
    return win, stride


def fit_model(
    spec: MemberSpec,
    signals: np.ndarray,
    labels: np.ndarray,
    tabular: np.ndarray | None,
    fs: float,
    train_idx: np.ndarray,
    val_idx: np.ndarray | None,
    seed: int,
    epochs: int | None = None,
    device: torch.device | None = None,
    epoch_callback: EpochCallback | None = None,
    log: Callable[[str], None] | None = print,
    log_prefix: str = "",
    targets: SoftTargets | None = None,
) -> FitResult:
    """Train one model on ``train_idx`` and early-stop on ``val_idx``.

    Parameters
    ----------
    signals : (N, leads, samples) float32, labels : (N, C), tabular : (N, F) or None
    train_idx : indices into N (may repeat: bootstrap replicas)
    val_idx : inner validation indices (patient-disjoint from train_idx), or None to
        train a fixed number of ``epochs`` without early stopping (refit-full).
    targets : teacher probabilities (distillation): the training loss mixes them with the
        hard labels (``pos_weight`` is not applied); early stopping still reads the inner
        split's hard labels only.
    """
    cfg = spec.training
    n_epochs = epochs or cfg.epochs
    dev = device or resolve_device(cfg.device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    t0 = time.perf_counter()
    fold = _prepare(spec, signals, labels, tabular, fs, train_idx, val_idx, seed, n_epochs,
                    dev, targets)
    model = fold.model
    if log is not None:
        log(f"{log_prefix}precision {'bf16 autocast' if fold.amp else 'fp32'} on {dev.type}")
    rows: list[dict[str, float]] = []
    best = _BestEpoch(default_epoch=n_epochs, patience=cfg.patience)
    for epoch in range(1, n_epochs + 1):
        row = _train_epoch(fold, spec, signals, train_idx, rng, epoch)
        rows.append(row)
        if log is not None:
            log(f"{log_prefix}epoch {epoch}/{n_epochs} train_loss {row['train_loss']:.4f} "
                f"val_loss {row['val_loss']:.4f} val_auc {row['val_auc']:.4f} "
                f"lr {row['lr']:.2e} ({row['seconds']:.1f}s)")
        if epoch_callback is not None:
            epoch_callback(epoch, row)
        if fold.val[0] is not None and best.update(epoch, row, model):
            break
    best.restore(model)
    model.eval()
    return FitResult(model=model, state=fold.state, curve=pd.DataFrame(rows),
                     best_epoch=best.epoch, seconds=time.perf_counter() - t0,
                     n_params=int(sum(p.numel() for p in model.parameters())),
                     autocast="bf16" if fold.amp else "fp32")


@dataclass
class _Fold:
    """One fit's prepared parts: the fitted fold state, training labels/tabular, the
    validation triple (x, y, tabular; all None without an inner split), the model and its
    optimisation step, batch size, crop window, eval stride and whether bf16 autocast is on."""

    state: FoldState
    y_train: np.ndarray
    t_train: np.ndarray | None
    val: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]
    model: nn.Module
    step: _Optimisation
    bs: int
    win: int | None
    stride: int | None
    amp: bool


def _prepare(spec: MemberSpec, signals: np.ndarray, labels: np.ndarray,
             tabular: np.ndarray | None, fs: float, train_idx: np.ndarray,
             val_idx: np.ndarray | None, seed: int, n_epochs: int, dev: torch.device,
             targets: SoftTargets | None) -> _Fold:
    """Fit the fold state, build the model, optimiser, schedule, loss and precision."""
    cfg = spec.training
    tab_names = list(spec.tabular_names)
    state, y_train, t_train, val = _fold_arrays(signals, labels, tabular, tab_names, train_idx,
                                                val_idx, seed)
    model = build_model(spec, n_leads=signals.shape[1], n_classes=labels.shape[1]).to(dev)
    bs = min(cfg.batch_size, len(train_idx))
    opt, sched = _optimiser(model, spec, max(1, int(np.ceil(len(train_idx) / bs))) * n_epochs)
    win, stride = window_lengths(spec, fs, signals.shape[-1])
    amp_dtype = choose_autocast(cfg.precision, dev, model, signals.shape[1],
                                win or signals.shape[-1], len(tab_names))
    loss_fn = _loss_fn(spec, y_train, dev)
    if targets is not None:  # the batch labels carry [hard | soft]; the mixed loss splits them
        y_train, loss_fn = np.concatenate([y_train, targets.rows(train_idx)], axis=1), \
            targets.loss_module()
    step = _Optimisation(model, opt, sched, loss_fn, dev, amp_dtype, cfg.grad_clip)
    return _Fold(state, y_train, t_train, val, model, step, bs, win, stride,
                 amp_dtype is not None)


def _train_epoch(fold: _Fold, spec: MemberSpec, signals: np.ndarray, train_idx: np.ndarray,
                 rng: np.random.Generator, epoch: int) -> dict[str, float]:
    """One pass over shuffled, cropped, augmented training batches, then the inner
    validation loss and AUC (NaN without an inner split); the epoch's curve row."""
    cfg = spec.training
    e0 = time.perf_counter()
    fold.model.train()
    perm = rng.permutation(len(train_idx))
    batches = (
        (augment(crop_batch(signals, train_idx[b], fold.win, rng, fold.state), cfg.augment, rng),
         fold.y_train[b], None if fold.t_train is None else fold.t_train[b])
        for b in (perm[lo : lo + fold.bs] for lo in range(0, len(perm), fold.bs))
    )
    train_loss = fold.step.epoch(batches)
    row: dict[str, float] = {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_loss": float("nan"),
        "val_auc": float("nan"),
        "lr": float(fold.step.opt.param_groups[0]["lr"]),
    }
    x_val, y_val, t_val = fold.val
    if x_val is not None and y_val is not None:
        p_val = predict_windows(fold.model, x_val, t_val, fold.win, fold.stride,
                                cfg.eval_aggregate, device=fold.step.dev, autocast=fold.amp)
        row["val_loss"] = bce_from_probs(y_val, p_val)
        row["val_auc"] = macro_auc(y_val, p_val)
    row["seconds"] = time.perf_counter() - e0
    return row


def _fold_arrays(
    signals: np.ndarray, labels: np.ndarray, tabular: np.ndarray | None, tab_names: list[str],
    train_idx: np.ndarray, val_idx: np.ndarray | None, seed: int,
) -> tuple[FoldState, np.ndarray, np.ndarray | None,
           tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]]:
    """Fold state fitted on the training rows; training labels/tabular; validation arrays.

    Training batches are cropped straight from ``signals`` (often a memmap) and only the
    crops are standardised: the training part is never copied whole. Returns
    (state, y_train, t_train, (x_val, y_val, t_val)); the validation triple is all None
    without ``val_idx``.
    """
    uniq_train = np.unique(train_idx)
    state = FoldState.fit(signals, None if tabular is None else tabular[uniq_train],
                          tab_names, seed=seed, rows=uniq_train)
    y_train = np.asarray(labels[train_idx], np.float32)
    t_train = state.transform_tabular(None if tabular is None else tabular[train_idx])
    if val_idx is None:
        return state, y_train, t_train, (None, None, None)
    return state, y_train, t_train, (
        state.transform_signals(signals[val_idx]),
        np.asarray(labels[val_idx], np.float32),
        state.transform_tabular(None if tabular is None else tabular[val_idx]),
    )


def _optimiser(model: nn.Module, spec: MemberSpec, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW and the one-cycle or cosine schedule over ``steps`` optimisation steps."""
    cfg = spec.training
    # every parameter decays except those a module exempts (an SSM's A and step size)
    groups = param_groups(model, cfg.weight_decay)
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)  # type: ignore[arg-type]
    sched: Any
    if cfg.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    return opt, sched


def _loss_fn(spec: MemberSpec, y_train: np.ndarray, dev: torch.device) -> nn.Module:
    """BCE-with-logits; with ``pos_weight`` on, each class weighted by negatives/positives."""
    pos_weight = None
    if spec.training.pos_weight:
        pos = y_train.sum(axis=0)
        pw = (len(y_train) - pos) / np.maximum(pos, 1.0)
        pos_weight = torch.as_tensor(pw, dtype=torch.float32, device=dev)
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)


@dataclass
class _Optimisation:
    """What one training step needs: model, optimiser, schedule, loss, device, precision."""

    model: nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    loss_fn: nn.Module
    dev: torch.device
    amp_dtype: torch.dtype | None
    grad_clip: float | None

    def epoch(self, batches: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> float:
        """One step per (signals, labels, tabular) batch; returns the mean loss per row."""
        total, count = 0.0, 0
        for xb, yb, tb in batches:
            xt = to_device(xb, self.dev)
            yt = to_device(yb, self.dev)
            tt = None if tb is None else to_device(tb, self.dev)
            with torch.autocast(device_type=self.dev.type,
                                dtype=self.amp_dtype or torch.bfloat16,
                                enabled=self.amp_dtype is not None):
                logits = self.model(xt, tt)
            loss = self.loss_fn(logits.float(), yt)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.opt.step()
            self.sched.step()
            total += float(loss.detach()) * len(xb)
            count += len(xb)
        return total / max(count, 1)


class _BestEpoch:
    """Early stopping: the best epoch by validation AUC, ties (e.g. a saturated AUC)
    broken by validation loss; stops after ``patience`` epochs without improvement."""

    def __init__(self, default_epoch: int, patience: int) -> None:
        self.epoch = default_epoch  # 1-based; the last epoch when nothing is validated
        self.patience = patience
        self._score: tuple[float, float] = (-np.inf, -np.inf)
        self._state: dict[str, Any] | None = None
        self._since = 0

    def update(self, epoch: int, row: dict[str, float], model: nn.Module) -> bool:
        """Record ``epoch``'s validation row; True when training should stop."""
        auc = row["val_auc"] if np.isfinite(row["val_auc"]) else -np.inf
        score = (auc, -row["val_loss"])
        if score > self._score:
            self._score, self.epoch, self._since = score, epoch, 0
            self._state = copy.deepcopy(model.state_dict())
            return False
        self._since += 1
        return self._since >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Load the best epoch's weights (no-op when nothing was validated)."""
        if self._state is not None:
            model.load_state_dict(self._state)
