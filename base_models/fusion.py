"""``EcgModel``: any backbone + generic tabular fusion + classifier head.

A *backbone* is an ``nn.Module`` mapping ``(B, in_channels, T) -> (B, num_features)``
(pooled features) with integer attributes ``num_features`` and ``min_length``.
``EcgModel`` adds the tabular input, in one of four modes, to any backbone:

- ``none``: signals only.
- ``early``: each tabular column is broadcast over time as an extra input channel
  (the backbone is built with ``n_leads + 2 * n_tabular`` input channels).
- ``intermediate``: the tabular vector is concatenated to the pooled features
  before the head.
- ``late``: a separate tabular MLP produces logits that are added to the ECG logits.

Tabular inputs are expected already scaled (the trainer fits scaling per fold);
NaN is replaced by 0 and a missing indicator is appended per column, so the
effective tabular width is ``2 * n_tabular``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from base_models.errors import InputShapeError, InvalidHParamError, ModelInterfaceError
from base_models.layers import check_float, check_int, make_head

FUSION_MODES = ("none", "early", "intermediate", "late")


def backbone_in_channels(n_leads: int, n_tabular: int, fusion: str) -> int:
    """Input channels the backbone must accept: leads, plus ``2 * n_tabular`` for early fusion."""
    return n_leads + (2 * n_tabular if fusion == "early" else 0)


def check_fusion(n_tabular: int, fusion: str) -> None:
    """Validate the (n_tabular, fusion) pair; raise ``InvalidHParamError`` naming the fault."""
    if fusion not in FUSION_MODES:
        raise InvalidHParamError(f"fusion={fusion!r}: expected one of {list(FUSION_MODES)}")
    if isinstance(n_tabular, bool) or not isinstance(n_tabular, int) or n_tabular < 0:
        raise InvalidHParamError(f"n_tabular={n_tabular!r}: expected an int >= 0")
    if n_tabular > 0 and fusion == "none":
        raise InvalidHParamError(
            f"n_tabular={n_tabular} but fusion='none': choose a fusion mode "
            "('early', 'intermediate' or 'late') or pass n_tabular=0"
        )
    if n_tabular == 0 and fusion != "none":
        raise InvalidHParamError(f"fusion={fusion!r} needs n_tabular > 0, got n_tabular=0")


def nan_safe_tabular(tabular: Tensor) -> Tensor:
    """``(B, F)`` with NaN -> ``(B, 2F)``: [values with NaN set to 0, missing indicators]."""
    missing = torch.isnan(tabular)
    values = torch.where(missing, torch.zeros_like(tabular), tabular)
    return torch.cat([values, missing.to(tabular.dtype)], dim=1)


def _checking() -> bool:
    """Eager mode only: shape checks are skipped while tracing/exporting."""
    return not (torch.jit.is_tracing() or torch.compiler.is_compiling())


class EcgModel(nn.Module):
    """A backbone with optional tabular fusion and a classifier head.

    Call as ``model(x, tabular=None)`` with ``x`` ``(B, n_leads, T)``, ``T >= min_length``,
    and ``tabular`` ``(B, n_tabular)`` (NaN allowed) when ``fusion != "none"``;
    returns logits ``(B, n_classes)``.

    Args:
        backbone: module ``(B, backbone_in_channels(...), T) -> (B, num_features)``
            with int attributes ``num_features`` and ``min_length``.
        n_leads, n_classes, n_tabular, fusion: see module docstring.
        dropout: head dropout (the common hyper-parameter of every family).
        head_hidden: width of the hidden head layer (0: a single linear layer).
        tabular_hidden: width of the tabular MLP of ``late`` fusion.
    """

    def __init__(
        self,
        backbone: nn.Module,
        n_leads: int,
        n_classes: int,
        n_tabular: int = 0,
        fusion: str = "none",
        dropout: float = 0.0,
        head_hidden: int = 0,
        tabular_hidden: int = 32,
    ) -> None:
        super().__init__()
        check_int("n_leads", n_leads)
        check_int("n_classes", n_classes)
        check_fusion(n_tabular, fusion)
        check_float("dropout", dropout, 0.0, 1.0)
        check_int("head_hidden", head_hidden, low=0)
        check_int("tabular_hidden", tabular_hidden)
        for attr in ("num_features", "min_length"):
            if not isinstance(getattr(backbone, attr, None), int):
                raise ModelInterfaceError(
                    f"backbone {type(backbone).__name__} lacks an int attribute {attr!r}"
                )
        self.backbone = backbone
        self.n_leads = n_leads
        self.n_classes = n_classes
        self.n_tabular = n_tabular
        self.fusion = fusion
        self.num_features: int = int(backbone.num_features)  # type: ignore[arg-type]
        self.min_length: int = int(backbone.min_length)  # type: ignore[arg-type]
        tab_width = 2 * n_tabular
        head_in = self.num_features + (tab_width if fusion == "intermediate" else 0)
        self.head = make_head(head_in, n_classes, head_hidden, dropout)
        self.tabular_head: nn.Module | None = None
        if fusion == "late":
            self.tabular_head = nn.Sequential(
                nn.Linear(tab_width, tabular_hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(tabular_hidden, n_classes),
            )

    def _tabular(self, tabular: Tensor | None, like: Tensor) -> Tensor | None:
        """Validate and NaN-encode the tabular input (cast to ``like``'s dtype and device);
        ``None`` when fusion is 'none'."""
        batch = like.shape[0]
        if self.fusion == "none":
            if tabular is not None and tabular.shape[-1] > 0:
                raise InputShapeError(
                    f"model built with fusion='none' got a tabular input of shape "
                    f"{tuple(tabular.shape)}; build it with n_tabular and a fusion mode"
                )
            return None
        if tabular is None:
            raise InputShapeError(
                f"model built with fusion={self.fusion!r} needs tabular=(B, {self.n_tabular})"
            )
        if _checking() and (
            tabular.dim() != 2 or tabular.shape[0] != batch or tabular.shape[1] != self.n_tabular
        ):
            raise InputShapeError(
                f"tabular: expected shape ({batch}, {self.n_tabular}), got {tuple(tabular.shape)}"
            )
        return nan_safe_tabular(tabular).to(dtype=like.dtype, device=like.device)

    def forward_features(self, x: Tensor, tabular: Tensor | None = None) -> Tensor:
        """Pooled backbone features ``(B, num_features)`` (early fusion applied here)."""
        if _checking():
            if x.dim() != 3 or x.shape[1] != self.n_leads:
                raise InputShapeError(
                    f"x: expected shape (batch, {self.n_leads}, samples), got {tuple(x.shape)}"
                )
            if x.shape[-1] < self.min_length:
                raise InputShapeError(
                    f"x: {x.shape[-1]} samples is shorter than this model's "
                    f"min_length={self.min_length}"
                )
        if self.fusion == "early":
            tab = self._tabular(tabular, x)
            assert tab is not None  # narrowing for mypy: _tabular raised otherwise
            x = torch.cat([x, tab.unsqueeze(-1).expand(-1, -1, x.shape[-1])], dim=1)
        feats: Tensor = self.backbone(x)
        return feats

    def forward_head(self, features: Tensor, tabular: Tensor | None = None) -> Tensor:
        """Logits ``(B, n_classes)`` from ``(B, num_features)`` (intermediate/late fusion here)."""
        if self.fusion in ("intermediate", "late"):
            tab = self._tabular(tabular, features)
            assert tab is not None
            if self.fusion == "intermediate":
                out: Tensor = self.head(torch.cat([features, tab], dim=1))
                return out
            assert self.tabular_head is not None
            return self.head(features) + self.tabular_head(tab)
        if self.fusion == "none" and tabular is not None:
            self._tabular(tabular, features)  # raises unless tabular is (B, 0)
        out_: Tensor = self.head(features)
        return out_

    def forward(self, x: Tensor, tabular: Tensor | None = None) -> Tensor:
        """Logits ``(B, n_classes)`` from ``x`` ``(B, n_leads, T)`` and optional tabular."""
        return self.forward_head(self.forward_features(x, tabular), tabular)
