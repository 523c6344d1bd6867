"""``cnn1d`` / ``fcn_wang``: the fully convolutional network of Wang et al. (2017).

Wang, Yan & Oates, "Time series classification from scratch with deep neural networks:
a strong baseline", IJCNN 2017 — the ``fcn_wang`` of the PTB-XL benchmark
(Strodthoff et al. 2021). Conv blocks (Conv-BN-ReLU) of 128/256/128 filters with kernels
8/5/3 at stride 1, global average pooling, a linear classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.errors import InvalidHParamError
from base_models.layers import check_int, check_int_seq, conv_bn_act, make_pool


class Cnn1d(nn.Module):
    """Plain 1-D CNN backbone ``(B, in_channels, T) -> (B, num_features)``.

    Args:
        in_channels: input channels (leads, plus tabular channels for early fusion).
        filters: output channels of each conv block.
        kernel_sizes: kernel of each block (same length as ``filters``).
        pool_every: insert MaxPool1d(2) after every ``pool_every``-th block (0: never;
            the FCN has no pooling).
        pool: global pooling, "avg" (FCN) or "concat" (max + avg).

    ``min_length`` is the largest kernel times the total downsampling.
    """

    def __init__(
        self,
        in_channels: int,
        filters: Sequence[int] = (128, 256, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
        pool_every: int = 0,
        pool: str = "avg",
    ) -> None:
        super().__init__()
        filters = check_int_seq("filters", filters)
        kernel_sizes = check_int_seq("kernel_sizes", kernel_sizes, length=len(filters))
        check_int("pool_every", pool_every, low=0)
        if pool_every and pool_every > len(filters):
            raise InvalidHParamError(
                f"hyper-parameter 'pool_every'={pool_every}: expected <= {len(filters)} blocks"
            )
        layers: list[nn.Module] = []
        c_in, downsample = in_channels, 1
        for i, (c_out, k) in enumerate(zip(filters, kernel_sizes, strict=True)):
            layers.append(conv_bn_act(c_in, c_out, k))
            if pool_every and (i + 1) % pool_every == 0 and i + 1 < len(filters):
                layers.append(nn.MaxPool1d(2))
                downsample *= 2
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.pool, mult = make_pool(pool)
        self.num_features = mult * filters[-1]
        self.min_length = max(kernel_sizes) * downsample

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.pool(self.body(x))
        return out


_PAPER = "Wang, Yan & Oates 2017 (FCN), as fcn_wang in Strodthoff et al. 2021 (PTB-XL benchmark)"
#: The family's tuning search space (sampled in this order by ensembler.tuning.spaces;
#: dropout and the optimiser come from the shared training space).
#: ``depth`` blocks of ``width`` channels (2x in the middle), first kernel, then ``kernel``.
_RANGES: dict[str, dict[str, Any]] = {
    "depth": {"low": 2, "high": 4},
    "width": {"choices": [16, 32, 64]},
    "first_kernel": {"choices": [5, 7, 9]},
    "kernel": {"choices": [3, 5]},
    "pool": {"choices": ["avg", "concat"]},
}
for _name in ("cnn1d", "fcn_wang"):
    register_variant(
        _name,
        Cnn1d,
        family="cnn1d",
        paper=_PAPER,
        defaults={},
        ranges=_RANGES,
        param_count=276_101,
    )
