"""``ts_cnn``: time-slicing CNN.

The recording is cut into S overlapping slices (``slice_length`` samples, ``overlap``
fraction; S = 1 + (T - slice_length) // step, a tail shorter than one step is dropped),
one shared CNN encodes every slice, and the S slice embeddings are aggregated by their
mean, by gated attention pooling (Ilse et al., "Attention-based deep multiple instance
learning", ICML 2018) or by a GRU — the time-slicing / multiple-instance view of
ECG classification (e.g. beat- or segment-level encoders pooled to a record label).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.layers import check_choice, check_float, check_int, conv_bn_act, make_pool


class GatedAttentionPool(nn.Module):
    """Ilse et al. 2018 gated attention: ``(B, S, D) -> (B, D)``, softmax weights over S."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.v = nn.Linear(dim, hidden)
        self.u = nn.Linear(dim, hidden)
        self.w = nn.Linear(hidden, 1)

    def forward(self, h: Tensor) -> Tensor:
        scores = self.w(torch.tanh(self.v(h)) * torch.sigmoid(self.u(h)))  # (B, S, 1)
        return (torch.softmax(scores, dim=1) * h).sum(dim=1)


class TimeSlicingCnn(nn.Module):
    """Time-slicing CNN backbone ``(B, in_channels, T) -> (B, num_features)``.

    Args:
        in_channels: input channels.
        slice_length: samples per slice (100 = 1 s at 100 Hz, about one beat).
        overlap: overlap between consecutive slices, a fraction in [0, 1).
        width: channels of the slice encoder (blocks of width, 2*width, 2*width, ...).
        depth: conv blocks of the encoder (MaxPool1d(2) between blocks).
        kernel_size: kernel of the encoder convs.
        aggregate: "mean", "attention" (gated attention pooling) or "gru" (final
            state of a bidirectional GRU over the slice sequence).
        agg_hidden: hidden size of the attention MLP / GRU (per direction).
    """

    def __init__(
        self,
        in_channels: int,
        slice_length: int = 100,
        overlap: float = 0.5,
        width: int = 32,
        depth: int = 3,
        kernel_size: int = 7,
        aggregate: str = "attention",
        agg_hidden: int = 64,
    ) -> None:
        super().__init__()
        check_int("slice_length", slice_length, low=2)
        check_float("overlap", overlap, 0.0, 1.0)
        check_int("width", width)
        check_int("depth", depth)
        check_int("kernel_size", kernel_size)
        check_int("agg_hidden", agg_hidden)
        self.aggregate = check_choice("aggregate", aggregate, ("mean", "attention", "gru"))
        self.slice_length = slice_length
        self.step = max(1, round(slice_length * (1.0 - overlap)))
        layers: list[nn.Module] = []
        c_in = in_channels
        for d in range(depth):
            c_out = width if d == 0 else 2 * width
            layers.append(conv_bn_act(c_in, c_out, kernel_size))
            if d < depth - 1:
                layers.append(nn.MaxPool1d(2, ceil_mode=True))
            c_in = c_out
        pool, mult = make_pool("concat")
        self.encoder = nn.Sequential(*layers, pool)
        emb = mult * c_in
        self.agg: nn.Module | None = None
        if aggregate == "attention":
            self.agg = GatedAttentionPool(emb, agg_hidden)
            self.num_features = emb
        elif aggregate == "gru":
            self.agg = nn.GRU(emb, agg_hidden, batch_first=True, bidirectional=True)
            self.num_features = 2 * agg_hidden
        else:
            self.num_features = emb
        self.min_length = slice_length

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[0], x.shape[1]
        slices = x.unfold(2, self.slice_length, self.step)  # (B, C, S, L)
        s = slices.shape[2]
        flat = slices.permute(0, 2, 1, 3).reshape(b * s, c, self.slice_length)
        h = self.encoder(flat).reshape(b, s, -1)  # (B, S, emb)
        if self.aggregate == "mean":
            return h.mean(dim=1)
        if self.aggregate == "gru":
            assert isinstance(self.agg, nn.GRU)
            _, h_n = self.agg(h)  # (2, B, H)
            return h_n.transpose(0, 1).reshape(b, -1)
        assert self.agg is not None
        out: Tensor = self.agg(h)
        return out


register_variant(
    "ts_cnn",
    TimeSlicingCnn,
    family="ts_cnn",
    paper="time-slicing CNN: shared per-slice CNN + mean / gated-attention (Ilse et al. 2018) "
    "/ GRU aggregation",
    defaults={"dropout": 0.2},
    # the family's tuning search space, sampled in this order by ensembler.tuning.spaces
    # (dropout and the optimiser: the shared training space)
    ranges={
        "slice_length": {"choices": [25, 50, 100]},
        "overlap": {"low": 0.0, "high": 0.75},
        "width": {"choices": [16, 32]},
        "depth": {"low": 2, "high": 3},
        "kernel_size": {"choices": [5, 7]},
        "aggregate": {"choices": ["mean", "attention", "gru"]},
    },
    param_count=63_238,
)
