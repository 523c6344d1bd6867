"""``cnn_lstm``: convolutional front end + (bi)LSTM.

The CNN-RNN pattern of ECG classifiers such as Oh et al. 2018 ("Automated diagnosis of
arrhythmia using combination of CNN and LSTM techniques", Comput. Biol. Med.): conv blocks
with max-pooling shorten the sequence ``2 ** len(conv_channels)``-fold, then an LSTM reads
the downsampled sequence; the head sees concat(max, mean) of the LSTM outputs
(``readout="pool"``) or the final hidden states of both directions (``readout="last"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.layers import check_choice, check_int, check_int_seq, conv_bn_act


class CnnLstm(nn.Module):
    """CNN-LSTM backbone ``(B, in_channels, T) -> (B, num_features)``.

    Args:
        in_channels: input channels.
        conv_channels: channels of the conv blocks (each Conv-BN-ReLU + MaxPool1d(2)).
        kernel_size: kernel of the conv blocks.
        hidden: LSTM hidden size per direction.
        num_layers: stacked LSTM layers.
        bidirectional: bi-LSTM.
        readout: "pool" (concat max+mean over time: ``2 * dirs * hidden`` features) or
            "last" (final hidden state of each direction: ``dirs * hidden``).
    """

    def __init__(
        self,
        in_channels: int,
        conv_channels: Sequence[int] = (64, 64, 64),
        kernel_size: int = 7,
        hidden: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        readout: str = "pool",
    ) -> None:
        super().__init__()
        channels = check_int_seq("conv_channels", conv_channels)
        check_int("kernel_size", kernel_size)
        check_int("hidden", hidden)
        check_int("num_layers", num_layers)
        self.readout = check_choice("readout", readout, ("pool", "last"))
        blocks: list[nn.Module] = []
        c_in = in_channels
        for c_out in channels:
            blocks += [conv_bn_act(c_in, c_out, kernel_size), nn.MaxPool1d(2)]
            c_in = c_out
        self.frontend = nn.Sequential(*blocks)
        self.lstm = nn.LSTM(
            c_in, hidden, num_layers=num_layers, batch_first=True, bidirectional=bidirectional
        )
        self.dirs = 2 if bidirectional else 1
        self.num_features = (2 if readout == "pool" else 1) * self.dirs * hidden
        self.min_length = 2 ** len(channels)

    def forward(self, x: Tensor) -> Tensor:
        seq = self.frontend(x).transpose(1, 2)  # (B, T', C)
        out, (h_n, _) = self.lstm(seq)  # out (B, T', dirs*H); h_n (layers*dirs, B, H)
        if self.readout == "pool":
            return torch.cat([out.amax(dim=1), out.mean(dim=1)], dim=1)
        last = h_n[-self.dirs :]  # last layer: forward (end) and backward (start) states
        return last.transpose(0, 1).reshape(x.shape[0], -1)


register_variant(
    "cnn_lstm",
    CnnLstm,
    family="cnn_lstm",
    paper="Oh et al. 2018 (CNN + LSTM for arrhythmia); CNN-RNN hybrids for ECG",
    defaults={"dropout": 0.2},
    # the family's tuning search space, sampled in this order by ensembler.tuning.spaces
    # (dropout and the optimiser: the shared training space); conv_layers x conv_width
    # give conv_channels
    ranges={
        "conv_layers": {"low": 2, "high": 3},
        "conv_width": {"choices": [16, 32, 64]},
        "kernel_size": {"choices": [5, 7, 9]},
        "hidden": {"choices": [16, 32, 64]},
        "num_layers": {"low": 1, "high": 2},
        "bidirectional": {"choices": [True, False]},
        "readout": {"choices": ["pool", "last"]},
    },
    param_count=130_949,
)
