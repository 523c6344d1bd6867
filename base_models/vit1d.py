"""``vit1d`` / ``vit1d_lead``: a Vision Transformer over time for ECG.

Dosovitskiy et al., "An image is worth 16x16 words", ICLR 2021, applied to 1-D signals:
non-overlapping patches of ``patch_size`` samples become tokens, pre-norm transformer
blocks, CLS or mean pooling. Tokens either span all leads (one token per time patch) or
are per lead (one token per lead and patch, with a learned lead embedding, so attention
also runs across leads). Positions are sinusoidal (any length) or learned (up to
``max_patches`` patches). The number of tokens is ``T // patch_size`` (a tail shorter than
one patch is dropped): at 100 Hz a 2.5 s window with ``patch_size=25`` gives only 10
tokens — prefer ``patch_size`` 5-10 for 2.5 s windows, or 25-50 for full 10 s inputs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from base_models._registry import register_variant
from base_models.errors import InputShapeError, InvalidHParamError
from base_models.layers import check_choice, check_float, check_int, sinusoidal_positions


class Attention(nn.Module):
    """Multi-head self-attention ``(B, N, D) -> (B, N, D)`` via scaled_dot_product_attention.

    Written out (as timm does) rather than nn.MultiheadAttention, whose inference fast
    path does not export to ONNX.
    """

    def __init__(self, dim: int, heads: int, attn_dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_dropout = attn_dropout

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        drop = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], dropout_p=drop)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)); x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, attn_dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, attn_dropout)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT1d(nn.Module):
    """ViT backbone ``(B, in_channels, T) -> (B, dim)``.

    Args:
        in_channels: input channels.
        patch_size: samples per patch (token).
        dim: token width; depth: transformer blocks; heads: attention heads
            (``dim % heads == 0``); mlp_ratio: MLP hidden = ``mlp_ratio * dim``.
        tokens: "all_leads" (a patch spans all leads) or "per_lead" (a token per lead
            and patch + lead embedding: ``in_channels`` times more tokens).
        positions: "sinusoidal" (any length) or "learned" (at most ``max_patches``).
        pool: "cls" (a learned class token) or "mean" (mean over tokens).
        attn_dropout: dropout on attention weights (training only).
    """

    def __init__(
        self,
        in_channels: int,
        patch_size: int = 10,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        tokens: str = "all_leads",
        positions: str = "sinusoidal",
        pool: str = "cls",
        max_patches: int = 512,
        attn_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_int("patch_size", patch_size)
        check_int("dim", dim)
        check_int("depth", depth)
        check_int("heads", heads)
        check_int("max_patches", max_patches)
        check_float("mlp_ratio", mlp_ratio, 0.25, 16.0)
        check_float("attn_dropout", attn_dropout, 0.0, 1.0)
        if dim % heads or dim % 2:
            raise InvalidHParamError(
                f"hyper-parameters dim={dim}, heads={heads}: dim must be even and divisible "
                "by heads"
            )
        self.tokens = check_choice("tokens", tokens, ("all_leads", "per_lead"))
        self.positions = check_choice("positions", positions, ("sinusoidal", "learned"))
        self.pool = check_choice("pool", pool, ("cls", "mean"))
        self.patch_size, self.dim, self.max_patches = patch_size, dim, max_patches
        self.in_channels = in_channels
        c_patch = in_channels if tokens == "all_leads" else 1
        self.patch_embed = nn.Conv1d(c_patch, dim, patch_size, stride=patch_size)
        self.lead_embed = (
            nn.Parameter(torch.zeros(in_channels, dim)) if tokens == "per_lead" else None
        )
        self.pos_embed = (
            nn.Parameter(torch.zeros(max_patches, dim)) if positions == "learned" else None
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        for p in (self.lead_embed, self.pos_embed, self.cls_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        self.blocks = nn.Sequential(
            *[Block(dim, heads, mlp_ratio, attn_dropout) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(dim)
        self.num_features = dim
        self.min_length = patch_size

    def _positions(self, n: int, ref: Tensor) -> Tensor:
        if self.pos_embed is None:
            return sinusoidal_positions(n, self.dim, ref.device).to(ref.dtype)
        if not torch.jit.is_tracing() and n > self.max_patches:
            raise InputShapeError(
                f"x: {n} patches exceed max_patches={self.max_patches} of learned positions "
                f"(at most {self.max_patches * self.patch_size} samples); use "
                "positions='sinusoidal' or a larger max_patches"
            )
        return self.pos_embed[:n]

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[0], x.shape[1]
        if self.tokens == "all_leads":
            tok = self.patch_embed(x).transpose(1, 2)  # (B, n, D)
            tok = tok + self._positions(tok.shape[1], tok)
        else:
            tok = self.patch_embed(x.reshape(b * c, 1, x.shape[2]))  # (B*C, D, n)
            n = tok.shape[2]
            tok = tok.reshape(b, c, self.dim, n).transpose(2, 3)  # (B, C, n, D)
            assert self.lead_embed is not None
            tok = tok + self._positions(n, tok) + self.lead_embed.unsqueeze(1)
            tok = tok.reshape(b, c * n, self.dim)
        if self.cls_token is not None:
            tok = torch.cat([self.cls_token.expand(b, -1, -1), tok], dim=1)
        tok = self.norm(self.blocks(tok))
        return tok[:, 0] if self.cls_token is not None else tok.mean(dim=1)


_PAPER = "Dosovitskiy et al. 2021 (ViT), 1-D patches over time"
#: The family's tuning search space (sampled in this order by ensembler.tuning.spaces;
#: dropout and the optimiser come from the shared training space).
_RANGES: dict[str, dict[str, Any]] = {
    "patch_size": {"choices": [10, 25, 50]},
    "dim": {"choices": [32, 64]},
    "heads": {"choices": [2, 4]},
    "depth": {"low": 1, "high": 4},
    "mlp_ratio": {"choices": [2.0, 4.0]},
    "tokens": {"choices": ["all_leads", "per_lead"]},
    "pool": {"choices": ["cls", "mean"]},
}
register_variant(
    "vit1d",
    ViT1d,
    family="vit1d",
    paper=_PAPER,
    defaults={"dropout": 0.1},
    ranges=_RANGES,
    param_count=546_437,
)
register_variant(
    "vit1d_lead",
    ViT1d,
    family="vit1d",
    paper=_PAPER + ", per-lead tokens",
    defaults={"dropout": 0.1, "tokens": "per_lead", "patch_size": 25, "dim": 64, "heads": 4},
    ranges=_RANGES,
    param_count=136_837,
)
