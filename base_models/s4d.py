"""``s4d`` / ``s4d_inv``: a diagonal structured state-space model (S4D) for ECG.

Gu, Gupta, Goel & Ré 2022, "On the Parameterization and Initialization of Diagonal
State Space Models" (S4D); the S4 family of Gu et al. 2022 is the strongest published
single model on PTB-XL (Mehari & Strodthoff 2023). Written in plain PyTorch because no
maintained package ships S4D without custom CUDA kernels or extra dependencies.

Each of ``H`` channels is a continuous single-input single-output SSM
``x'(t) = A x(t) + B u(t)``, ``y(t) = 2 Re(C x(t)) + D u(t)`` with a diagonal complex
``A`` of ``N/2`` modes (``N = d_state``; the conjugate half is implied by the real
part), ``B = 1`` (only the product ``C B`` enters the kernel, so ``C`` carries it) and a
learned step ``dt``:

* initialisation as published: ``Re A = -1/2``; S4D-Lin ``Im A_n = pi n``; S4D-Inv
  ``Im A_n = N/pi (N/(2n+1) - 1)``; ``C ~ CN(0, 1)``; ``dt`` log-uniform in
  ``[dt_min, dt_max]``;
* zero-order-hold discretisation: ``dA = exp(dt A)``, ``dB = (exp(dt A) - 1) / A * B``;
* kernel ``K_l = 2 Re(sum_n C_n dB_n dA_n^l)`` for ``l < L`` (a Vandermonde product,
  computed in sqrt(L) blocks as one batched matmul), applied by FFT convolution
  (zero-padded to ``2L``, so it is linear, not circular);
* bidirectional: a second SSM reads the sequence backwards (lags ``-1 .. -L``).

The block is the usual S4 residual block: LayerNorm -> S4D -> GELU -> dropout ->
1x1 conv + GLU -> dropout, added to the input. ``materialize_kernel(length)`` turns the
kernel into a fixed real depthwise convolution, which is how the model exports to ONNX
(ONNX has no complex dtype); see :func:`base_models.materialized_kernels`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.errors import InputShapeError, InvalidHParamError
from base_models.layers import check_choice, check_float, check_int, make_pool

INITS = ("lin", "inv")


def s4d_imag_init(init: str, d_state: int) -> Tensor:
    """Imaginary parts ``(d_state // 2,)`` of the published S4D-Lin / S4D-Inv ``A``."""
    n = torch.arange(d_state // 2, dtype=torch.float32)
    if check_choice("init", init, INITS) == "lin":
        return math.pi * n
    return d_state / math.pi * (d_state / (2 * n + 1) - 1)


class S4DConv(nn.Module):
    """The diagonal SSM as a long convolution ``(B, H, L) -> (B, H, L)``.

    Args:
        channels: ``H``, one independent SSM per channel (per direction).
        d_state: ``N``, state size; ``N/2`` complex modes are stored (even, >= 2).
        init: "lin" (S4D-Lin) or "inv" (S4D-Inv).
        bidirectional: add a second SSM over the reversed sequence.
        dt_min, dt_max: range of the log-uniform initial step.
    """

    def __init__(
        self,
        channels: int,
        d_state: int = 64,
        init: str = "lin",
        bidirectional: bool = False,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        check_int("channels", channels)
        if check_int("d_state", d_state, low=2) % 2:
            raise InvalidHParamError(f"hyper-parameter 'd_state'={d_state!r}: expected an even int")
        check_float("dt_min", dt_min, 1e-6, dt_max)
        check_float("dt_max", dt_max, dt_min, 10.0)
        self.channels, self.bidirectional = channels, bool(bidirectional)
        groups = channels * (2 if bidirectional else 1)
        modes = d_state // 2
        log_dt = torch.rand(groups) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.log_neg_re_a = nn.Parameter(torch.full((groups, modes), math.log(0.5)))
        self.im_a = nn.Parameter(s4d_imag_init(init, d_state).repeat(groups, 1))
        self.c = nn.Parameter(torch.view_as_real(torch.randn(groups, modes, dtype=torch.cfloat)))
        self.d = nn.Parameter(torch.randn(channels))
        self._fixed: Tensor | None = None  # the materialised depthwise kernel (export)

    #: the SSM's A and step size are exempt from weight decay (as in the reference S4 code),
    #: which would otherwise pull Re A and log dt toward 0; see base_models.param_groups
    no_weight_decay = ("log_dt", "log_neg_re_a", "im_a")

    def continuous_a(self) -> Tensor:
        """Diagonal of ``A``, ``(groups, N/2)`` complex (real part kept negative)."""
        return torch.complex(-torch.exp(self.log_neg_re_a), self.im_a)

    def _dt_a(self) -> tuple[Tensor, Tensor]:
        """``(dt A, C dB)``, each ``(groups, N/2)`` complex (zero-order hold, ``B = 1``)."""
        a = self.continuous_a()
        dt_a = a * torch.exp(self.log_dt)[:, None]
        return dt_a, torch.view_as_complex(self.c) * (torch.exp(dt_a) - 1) / a

    def discrete(self) -> tuple[Tensor, Tensor, Tensor]:
        """Zero-order hold: ``(dA, dB, C)``, each ``(groups, N/2)`` complex, ``B = 1``."""
        a = self.continuous_a()
        d_a = torch.exp(a * torch.exp(self.log_dt)[:, None])
        return d_a, (d_a - 1) / a, torch.view_as_complex(self.c)

    def kernel(self, length: int) -> Tensor:
        """Real kernel ``(groups, length)``: ``K_l = 2 Re(sum_n C_n dB_n dA_n^l)``.

        The Vandermonde product is computed in blocks: with ``l = q m + r`` and
        ``m = ceil(sqrt(L))``, ``dA^l = dA^(q m) dA^r``, so ``K`` is one batched complex
        matmul ``(Q, N/2) @ (N/2, m)`` per group and only ``O(N sqrt(L))`` exponentials
        are taken (the full ``(N/2, L)`` Vandermonde matrix is never stored).
        """
        dt_a, c_db = self._dt_a()
        real = dt_a.real.dtype
        m = math.isqrt(max(length - 1, 0)) + 1
        blocks = -(-length // m)
        r = torch.arange(m, device=dt_a.device, dtype=real)
        qm = torch.arange(blocks, device=dt_a.device, dtype=real) * m
        left = c_db[:, None, :] * torch.exp(dt_a[:, None, :] * qm[None, :, None])  # (G, Q, n)
        right = torch.exp(dt_a[:, :, None] * r)  # (G, n, m)
        k = torch.bmm(left, right).real.reshape(dt_a.shape[0], blocks * m)[:, :length]
        return 2 * k

    def _two_sided(self, length: int) -> tuple[Tensor, Tensor]:
        """``(causal kernel (H, L), backward kernel (H, L) or zeros)``."""
        k = self.kernel(length)
        if not self.bidirectional:
            return k, torch.zeros_like(k)
        return k[: self.channels], k[self.channels :]

    def forward(self, u: Tensor) -> Tensor:
        length = u.shape[-1]
        if self._fixed is not None:
            return self._forward_fixed(u)
        k_fwd, k_bwd = self._two_sided(length)
        # circular convolution of size 2L: causal lags at 0..L-1, backward lags -1..-L
        k = F.pad(k_fwd, (0, length)) + F.pad(k_bwd.flip(-1), (length, 0))
        n = 2 * length
        y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :length]
        return y + u * self.d[:, None]

    def materialize_kernel(self, length: int | None) -> None:
        """Fix the kernel for inputs of up to ``length`` samples (``None``: back to FFT).

        The fixed kernel is a depthwise ``Conv1d`` weight ``(H, 1, 2 * length - 1)``:
        the causal kernel reversed, then the backward kernel (zeros when causal).
        """
        if length is None:
            self._fixed = None
            return
        with torch.no_grad():
            k_fwd, k_bwd = self._two_sided(check_int("length", length))
            weight = torch.cat([k_fwd.flip(-1), k_bwd[:, : length - 1]], dim=-1)
        self._fixed = weight[:, None, :].contiguous()

    def _forward_fixed(self, u: Tensor) -> Tensor:
        assert self._fixed is not None
        half = (self._fixed.shape[-1] + 1) // 2
        if not torch.jit.is_tracing() and u.shape[-1] > half:
            raise InputShapeError(
                f"x: {u.shape[-1]} samples, but the s4d kernel is materialised for {half} "
                "samples; materialise it for the longest input"
            )
        y = F.conv1d(F.pad(u, (half - 1, half - 1)), self._fixed, groups=self.channels)
        return y + u * self.d[:, None]


class S4DBlock(nn.Module):
    """Pre-norm residual S4D block ``(B, H, L) -> (B, H, L)``."""

    def __init__(self, d_model: int, dropout: float, **ssm: Any) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.ssm = S4DConv(d_model, **ssm)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)
        self.out = nn.Conv1d(d_model, 2 * d_model, 1)
        self.glu = nn.GLU(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        z = self.norm(x.transpose(1, 2)).transpose(1, 2)
        z = self.drop(self.act(self.ssm(z)))
        out: Tensor = x + self.drop(self.glu(self.out(z)))
        return out


class S4D(nn.Module):
    """S4D backbone ``(B, in_channels, T) -> (B, num_features)``.

    Args:
        in_channels: input channels (leads).
        d_model: channels of every block (a 1x1 conv encodes the leads).
        n_layers: residual S4D blocks.
        d_state: SSM state size ``N`` per channel (``N/2`` complex modes).
        init: "lin" (S4D-Lin) or "inv" (S4D-Inv).
        bidirectional: each block also reads the sequence backwards.
        layer_dropout: dropout inside the blocks (the head has its own ``dropout``).
        dt_min, dt_max: range of the initial step (in samples^-1; 1/dt is the time scale).
        pool: "concat" (max + mean over time) or "avg".
    """

    def __init__(
        self,
        in_channels: int,
        d_model: int = 128,
        n_layers: int = 4,
        d_state: int = 64,
        init: str = "lin",
        bidirectional: bool = True,
        layer_dropout: float = 0.1,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        pool: str = "concat",
    ) -> None:
        super().__init__()
        check_int("d_model", d_model)
        check_int("n_layers", n_layers)
        check_float("layer_dropout", layer_dropout, 0.0, 1.0)
        self.encoder = nn.Conv1d(in_channels, d_model, 1)
        ssm = {"d_state": d_state, "init": init, "bidirectional": bidirectional,
               "dt_min": dt_min, "dt_max": dt_max}  # fmt: skip
        self.blocks = nn.Sequential(
            *[S4DBlock(d_model, layer_dropout, **ssm) for _ in range(n_layers)]
        )
        self.norm = nn.LayerNorm(d_model)
        self.pool, mult = make_pool(pool)
        self.num_features = mult * d_model
        self.min_length = 1

    def forward(self, x: Tensor) -> Tensor:
        z = self.blocks(self.encoder(x))
        z = self.norm(z.transpose(1, 2)).transpose(1, 2)
        out: Tensor = self.pool(z)
        return out


_PAPER = (
    "Gu et al. 2022, S4D (diagonal state spaces, S4D-Lin/S4D-Inv init); S4 on PTB-XL: "
    "Mehari & Strodthoff 2023"
)
#: The family's tuning search space (sampled in this order by ensembler.tuning.spaces;
#: dropout and the optimiser come from the shared training space).
_RANGES: dict[str, dict[str, Any]] = {
    "d_model": {"choices": [32, 64, 128]},
    "n_layers": {"low": 2, "high": 4},
    "d_state": {"choices": [16, 32, 64]},
    "init": {"choices": list(INITS)},
    "bidirectional": {"choices": [True, False]},
    "layer_dropout": {"low": 0.0, "high": 0.3},
    "dt_max": {"choices": [0.01, 0.1]},
}
for _name, _init in (("s4d", "lin"), ("s4d_inv", "inv")):
    register_variant(
        _name,
        S4D,
        family="s4d",
        paper=_PAPER,
        defaults={"init": _init, "dropout": 0.2},
        ranges=_RANGES,
        param_count=268_933,
    )
