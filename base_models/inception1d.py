"""``inception1d``: InceptionTime for ECG.

Ismail Fawaz et al., "InceptionTime: finding AlexNet for time series classification",
DMKD 2020, as ``inception1d`` in Strodthoff et al. 2021: six inception modules (bottleneck
32; convs of kernels 39/19/9 and a max-pool branch, 32 filters each -> 128 channels),
a residual shortcut every 3 modules, concat pooling, fastai head (hidden 128, dropout 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.layers import check_int, check_int_seq, conv_bn_act, make_pool


def _conv(c_in: int, c_out: int, k: int) -> nn.Conv1d:
    return nn.Conv1d(c_in, c_out, k, padding=(k - 1) // 2, bias=False)


class InceptionModule1d(nn.Module):
    """Bottleneck -> parallel convs + (max-pool -> 1x1 conv) -> concat -> BN -> ReLU."""

    def __init__(self, c_in: int, filters: int, kernels: Sequence[int], bottleneck: int) -> None:
        super().__init__()
        self.bottleneck: nn.Module = _conv(c_in, bottleneck, 1) if bottleneck else nn.Identity()
        c_mid = bottleneck or c_in
        self.convs = nn.ModuleList([_conv(c_mid, filters, k) for k in kernels])
        self.pool_branch = nn.Sequential(nn.MaxPool1d(3, 1, padding=1), _conv(c_in, filters, 1))
        self.bn_act = nn.Sequential(nn.BatchNorm1d(filters * (len(kernels) + 1)), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        b = self.bottleneck(x)
        out: Tensor = self.bn_act(torch.cat([c(b) for c in self.convs] + [self.pool_branch(x)], 1))
        return out


class Inception1d(nn.Module):
    """InceptionTime backbone ``(B, in_channels, T) -> (B, 2 * filters * (len(kernels) + 1))``.

    Args:
        in_channels: input channels.
        depth: number of inception modules.
        filters: filters per branch (output channels = ``filters * (len(kernels) + 1)``).
        kernel_sizes: kernels of the parallel convs (odd: 39/19/9 as published).
        bottleneck: bottleneck channels (0: none).
        residual_every: add a shortcut (1x1 conv + BN) around every this many modules.
    """

    def __init__(
        self,
        in_channels: int,
        depth: int = 6,
        filters: int = 32,
        kernel_sizes: Sequence[int] = (39, 19, 9),
        bottleneck: int = 32,
        residual_every: int = 3,
    ) -> None:
        super().__init__()
        check_int("depth", depth)
        check_int("filters", filters)
        check_int("bottleneck", bottleneck, low=0)
        check_int("residual_every", residual_every)
        kernels = check_int_seq("kernel_sizes", kernel_sizes)
        c_out = filters * (len(kernels) + 1)
        self.residual_every = residual_every
        self.blocks = nn.ModuleList(
            [
                InceptionModule1d(in_channels if d == 0 else c_out, filters, kernels, bottleneck)
                for d in range(depth)
            ]
        )
        self.shortcuts = nn.ModuleList(
            [
                conv_bn_act(in_channels if i == 0 else c_out, c_out, 1, act=False)
                for i in range(depth // residual_every)
            ]
        )
        self.act = nn.ReLU()
        self.pool, mult = make_pool("concat")
        self.num_features = mult * c_out
        self.min_length = max(kernels)

    def forward(self, x: Tensor) -> Tensor:
        res = x
        for d, module in enumerate(self.blocks):
            x = module(x)
            if (d + 1) % self.residual_every == 0:
                x = self.act(x + self.shortcuts[d // self.residual_every](res))
                res = x
        out: Tensor = self.pool(x)
        return out


#: Named kernel-size sets of the family's search space (``kernel_set`` -> ``kernel_sizes``).
KERNEL_SETS: dict[str, list[int]] = {"long": [39, 19, 9], "medium": [19, 9, 5],
                                     "short": [9, 5, 3]}

register_variant(
    "inception1d",
    Inception1d,
    family="inception1d",
    paper="Ismail Fawaz et al. 2020 (InceptionTime), as inception1d in Strodthoff et al. 2021",
    defaults={"head_hidden": 128, "dropout": 0.5},
    # the family's tuning search space, sampled in this order by ensembler.tuning.spaces
    # (dropout and the optimiser: the shared training space); kernel_set names KERNEL_SETS
    ranges={
        "kernel_set": {"choices": sorted(KERNEL_SETS)},
        "depth": {"choices": [3, 6]},
        "filters": {"choices": [8, 16, 32]},
        "bottleneck": {"choices": [8, 16, 32]},
        "head_hidden": {"choices": [0, 64]},
    },
    param_count=507_653,
)
