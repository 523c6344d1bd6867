"""Small building blocks shared by the families: conv-BN-act, pooling, heads, checks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from base_models.errors import InvalidHParamError


def conv_bn_act(
    c_in: int,
    c_out: int,
    kernel_size: int,
    stride: int = 1,
    act: bool = True,
    zero_bn: bool = False,
) -> nn.Sequential:
    """Conv1d (no bias, padding ``(k-1)//2``) -> BatchNorm1d -> optional ReLU.

    ``zero_bn`` initialises the BN scale to 0 (bag-of-tricks residual init).
    """
    conv = nn.Conv1d(c_in, c_out, kernel_size, stride, padding=(kernel_size - 1) // 2, bias=False)
    bn = nn.BatchNorm1d(c_out)
    if zero_bn:
        nn.init.zeros_(bn.weight)
    layers: list[nn.Module] = [conv, bn]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ConcatPool1d(nn.Module):
    """fastai's AdaptiveConcatPool1d: ``(B, C, T) -> (B, 2C)`` = [max over T, mean over T]."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x.amax(dim=-1), x.mean(dim=-1)], dim=1)


class AvgPool1d(nn.Module):
    """Global average pooling ``(B, C, T) -> (B, C)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=-1)


def make_pool(kind: str) -> tuple[nn.Module, int]:
    """Return ``(pool module, feature multiplier)`` for ``kind`` in {"concat", "avg"}."""
    check_choice("pool", kind, ("concat", "avg"))
    return (ConcatPool1d(), 2) if kind == "concat" else (AvgPool1d(), 1)


def make_head(in_features: int, n_classes: int, hidden: int, dropout: float) -> nn.Sequential:
    """Classifier head on pooled features ``(B, in_features) -> (B, n_classes)``.

    ``hidden > 0`` gives the fastai / PTB-XL-benchmark head
    ``BN -> Dropout(p/2) -> Linear -> ReLU -> BN -> Dropout(p) -> Linear``;
    ``hidden == 0`` gives ``Dropout(p) -> Linear``.
    """
    if hidden > 0:
        return nn.Sequential(
            nn.BatchNorm1d(in_features),
            nn.Dropout(dropout / 2),
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, n_classes))


def sinusoidal_positions(n: int, dim: int, device: torch.device) -> Tensor:
    """Transformer sine/cosine position table ``(n, dim)`` (Vaswani et al. 2017)."""
    pos = torch.arange(n, device=device, dtype=torch.float32).unsqueeze(1)
    half = dim // 2
    freq = torch.exp(
        torch.arange(half, device=device, dtype=torch.float32) * (-math.log(10000.0) / half)
    )
    angles = pos * freq.unsqueeze(0)
    table = torch.cat([angles.sin(), angles.cos()], dim=1)
    if dim % 2:
        table = torch.cat([table, torch.zeros(n, 1, device=device)], dim=1)
    return table


# -- hyper-parameter checks (raise InvalidHParamError naming the parameter) --


def check_int(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidHParamError(f"hyper-parameter {name!r}={value!r}: expected an int >= {low}")
    return value


def check_float(name: str, value: object, low: float, high: float) -> float:
    """Check ``low <= value < high``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value < high:
        raise InvalidHParamError(
            f"hyper-parameter {name!r}={value!r}: expected a number in [{low}, {high})"
        )
    return float(value)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidHParamError(
            f"hyper-parameter {name!r}={value!r}: expected one of {list(choices)}"
        )
    return str(value)


def check_int_seq(name: str, value: object, length: int | None = None) -> tuple[int, ...]:
    """Accept an int sequence (lists from YAML/JSON included), each entry >= 1."""
    if not isinstance(value, list | tuple) or not value:
        raise InvalidHParamError(f"hyper-parameter {name!r}={value!r}: expected a list of ints")
    if length is not None and len(value) != length:
        raise InvalidHParamError(
            f"hyper-parameter {name!r}={value!r}: expected {length} entries, got {len(value)}"
        )
    return tuple(check_int(f"{name}[{i}]", v) for i, v in enumerate(value))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """Optimiser parameter groups: weight decay everywhere except on the parameters a
    module lists in its ``no_weight_decay`` attribute (parameter names local to that
    module; e.g. an SSM's ``A`` and step size, which decay would pull toward zero)."""
    exempt: set[int] = set()
    for module in model.modules():
        for name in getattr(module, "no_weight_decay", ()):
            exempt.add(id(getattr(module, name)))
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if id(p) not in exempt]
    plain = [p for p in params if id(p) in exempt]
    groups: list[dict[str, object]] = [{"params": decay, "weight_decay": weight_decay}]
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0})
    return groups
