"""``resnet1d`` / ``resnet1d_wang``: the 1-D ResNet of the PTB-XL benchmark.

Wang et al. 2017 ResNet as re-implemented in Strodthoff et al. 2021 ("Deep learning for
ECG analysis: benchmarks and insights from PTB-XL", ``resnet1d_wang``): a stem conv of
kernel 7, three stages of one basic block each (kernels 5 and 3), 128 channels throughout,
stride 2 in stages 2-3, concat pooling and the fastai head (hidden 128, dropout 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.layers import check_int, check_int_seq, conv_bn_act, make_pool


class BasicBlock1d(nn.Module):
    """Two convs (kernels ``k1``, ``k2``) + identity (1x1 conv + BN when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernels: tuple[int, int]) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            conv_bn_act(c_in, c_out, kernels[0], stride),
            conv_bn_act(c_out, c_out, kernels[1], act=False),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = conv_bn_act(c_in, c_out, 1, stride, act=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.act(self.convs(x) + self.shortcut(x))
        return out


class ResNet1d(nn.Module):
    """ResNet backbone ``(B, in_channels, T) -> (B, 2 * channels of the last stage)``.

    Args:
        in_channels: input channels.
        width: channels of the stem and of every stage (128 as published; 64 is the
            CPU-budget setting, ~4x fewer parameters and FLOPs).
        layers: blocks per stage; stages after the first downsample by 2.
        kernel_sizes: kernels of the two convs in a basic block.
        stem_kernel: kernel of the stem conv.
        widen_stages: double the width at each stage (classic ResNet) instead of the
            benchmark's fixed width.
    """

    def __init__(
        self,
        in_channels: int,
        width: int = 128,
        layers: Sequence[int] = (1, 1, 1),
        kernel_sizes: Sequence[int] = (5, 3),
        stem_kernel: int = 7,
        widen_stages: bool = False,
    ) -> None:
        super().__init__()
        check_int("width", width)
        check_int("stem_kernel", stem_kernel)
        layers = check_int_seq("layers", layers)
        k1, k2 = check_int_seq("kernel_sizes", kernel_sizes, length=2)
        self.stem = conv_bn_act(in_channels, width, stem_kernel)
        blocks: list[nn.Module] = []
        c_in = width
        for stage, n_blocks in enumerate(layers):
            c_out = width * 2**stage if widen_stages else width
            for b in range(n_blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(BasicBlock1d(c_in, c_out, stride, (k1, k2)))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool, mult = make_pool("concat")
        self.num_features = mult * c_in
        self.min_length = max(stem_kernel, k1) * 2 ** (len(layers) - 1)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.pool(self.blocks(self.stem(x)))
        return out


_PAPER = "Wang et al. 2017 ResNet, as resnet1d_wang in Strodthoff et al. 2021 (PTB-XL benchmark)"
#: The family's tuning search space (sampled in this order by ensembler.tuning.spaces;
#: dropout and the optimiser come from the shared training space).
#: ``blocks_per_stage`` gives ``layers``; ``kernel_1``/``kernel_2`` the block kernels.
_RANGES: dict[str, dict[str, Any]] = {
    "blocks_per_stage": {"low": 1, "high": 2},
    "width": {"choices": [16, 32, 64]},
    "kernel_1": {"choices": [3, 5, 7]},
    "kernel_2": {"choices": [3, 5]},
    "stem_kernel": {"choices": [5, 7, 9]},
    "head_hidden": {"choices": [0, 64]},
}
for _name in ("resnet1d", "resnet1d_wang"):
    register_variant(
        _name,
        ResNet1d,
        family="resnet1d",
        paper=_PAPER,
        defaults={"head_hidden": 128, "dropout": 0.5},
        ranges=_RANGES,
        param_count=473_349,
    )
