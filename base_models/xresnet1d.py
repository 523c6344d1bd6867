"""``xresnet1d{18,34,50,101}``: the bag-of-tricks ResNet in 1-D.

He et al., "Bag of tricks for image classification with convolutional neural networks",
CVPR 2019 (ResNet-D: 3-conv stem, stride on the 3x3 conv, avg-pool shortcut, zero-init
last BN), in the 1-D form of fastai / Strodthoff et al. 2021 (``xresnet1d50``/``101``):
kernel 5 in stem and body, concat pooling, fastai head (hidden 128, dropout 0.5).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.errors import InvalidHParamError
from base_models.layers import check_float, check_int, conv_bn_act, make_pool

#: depth -> (blocks per stage, expansion), as torchvision / fastai.
DEPTHS: dict[int, tuple[tuple[int, ...], int]] = {
    18: ((2, 2, 2, 2), 1),
    34: ((3, 4, 6, 3), 1),
    50: ((3, 4, 6, 3), 4),
    101: ((3, 4, 23, 3), 4),
    152: ((3, 8, 36, 3), 4),
}


class XResBlock1d(nn.Module):
    """Basic (expansion 1) or bottleneck (expansion 4) block with a ResNet-D shortcut."""

    def __init__(self, c_in: int, width: int, expansion: int, stride: int, kernel: int) -> None:
        super().__init__()
        c_out = width * expansion
        if expansion == 1:
            convs = [
                conv_bn_act(c_in, width, kernel, stride),
                conv_bn_act(width, c_out, kernel, act=False, zero_bn=True),
            ]
        else:
            convs = [
                conv_bn_act(c_in, width, 1),
                conv_bn_act(width, width, kernel, stride),
                conv_bn_act(width, c_out, 1, act=False, zero_bn=True),
            ]
        self.convs = nn.Sequential(*convs)
        shortcut: list[nn.Module] = []
        if stride != 1:
            shortcut.append(nn.AvgPool1d(stride, ceil_mode=True))
        if c_in != c_out:
            shortcut.append(conv_bn_act(c_in, c_out, 1, act=False))
        self.shortcut = nn.Sequential(*shortcut)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.act(self.convs(x) + self.shortcut(x))
        return out


class XResNet1d(nn.Module):
    """xResNet backbone ``(B, in_channels, T) -> (B, 2 * 512 * expansion * widen)``.

    Args:
        in_channels: input channels.
        depth: 18, 34 (basic blocks) or 50, 101, 152 (bottleneck blocks).
        widen: multiplier of the stage widths 64/128/256/512 (0.5 for CPU budgets).
        kernel_size: kernel of the body convs.
        stem_kernel: kernel of the three stem convs (32, 32, 64 channels; first has stride 2).

    The input is downsampled 32x (stem 2x, max-pool 2x, three strided stages).
    """

    def __init__(
        self,
        in_channels: int,
        depth: int = 50,
        widen: float = 1.0,
        kernel_size: int = 5,
        stem_kernel: int = 5,
    ) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise InvalidHParamError(
                f"hyper-parameter 'depth'={depth!r}: expected one of {sorted(DEPTHS)}"
            )
        check_float("widen", widen, 0.05, 8.0)
        check_int("kernel_size", kernel_size)
        check_int("stem_kernel", stem_kernel)
        layers, expansion = DEPTHS[depth]
        self.stem = nn.Sequential(
            conv_bn_act(in_channels, 32, stem_kernel, stride=2),
            conv_bn_act(32, 32, stem_kernel),
            conv_bn_act(32, 64, stem_kernel),
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        blocks: list[nn.Module] = []
        c_in = 64
        for stage, n_blocks in enumerate(layers):
            width = max(1, int(64 * 2**stage * widen))
            for b in range(n_blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(XResBlock1d(c_in, width, expansion, stride, kernel_size))
                c_in = width * expansion
        self.blocks = nn.Sequential(*blocks)
        self.pool, mult = make_pool("concat")
        self.num_features = mult * c_in
        self.min_length = 32

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.pool(self.blocks(self.stem(x)))
        return out


_PAPER = "He et al. 2019 (bag of tricks, ResNet-D), 1-D as xresnet1d in Strodthoff et al. 2021"
#: The family's tuning search space (sampled in this order by ensembler.tuning.spaces;
#: dropout and the optimiser come from the shared training space).
_RANGES: dict[str, dict[str, Any]] = {
    "depth": {"choices": [18, 34]},
    "widen": {"choices": [0.125, 0.25, 0.5]},
    "kernel_size": {"choices": [3, 5, 7]},
    "stem_kernel": {"choices": [3, 5, 7]},
    "head_hidden": {"choices": [0, 64]},
}
_COUNTS = {18: 6_436_229, 34: 12_055_173, 50: 19_019_653, 101: 33_555_333}
for _depth, _count in _COUNTS.items():
    register_variant(
        f"xresnet1d{_depth}",
        XResNet1d,
        family="xresnet1d",
        paper=_PAPER,
        defaults={"depth": _depth, "head_hidden": 128, "dropout": 0.5},
        ranges=_RANGES,
        param_count=_count,
    )
register_variant(
    "xresnet1d",
    XResNet1d,
    family="xresnet1d",
    paper=_PAPER,
    defaults={"depth": 50, "head_hidden": 128, "dropout": 0.5},
    ranges=_RANGES,
    param_count=_COUNTS[50],
)
