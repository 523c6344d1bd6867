"""PyTorch base architectures for (batch, leads, samples) ECG input, plus the registry.

>>> from base_models import create_model, list_models
>>> model = create_model("resnet1d_wang", n_leads=12, n_classes=5)
>>> logits = model(torch.randn(8, 12, 250))            # (8, 5)

Every model: ``model(x (B, leads, T), tabular (B, n_tabular) | None) -> logits (B, C)``,
``forward_features``, ``forward_head``, ``num_features``, ``min_length``.
The family modules are imported here explicitly: importing ``base_models`` registers
every built-in variant.
"""

from base_models import (  # noqa: F401  (imported to register the built-in families)
    cnn1d,
    cnn_lstm,
    inception1d,
    resnet1d,
    s4d,
    ts_cnn,
    vit1d,
    xresnet1d,
)
from base_models._registry import (
    HEAD_HPARAMS,
    check_allowed,
    check_hparam_values,
    check_model_interface,
    create_model,
    family_ranges,
    get_model_info,
    is_registered,
    list_models,
    model_hparams,
    register_model,
    resolve_model_fn,
    user_module_imported,
)
from base_models.errors import (
    BaseModelsError,
    DuplicateModelError,
    InputShapeError,
    InvalidHParamError,
    ModelInterfaceError,
    UnknownModelError,
    UntrustedModelError,
)
from base_models.export import materialized_kernels
from base_models.fusion import FUSION_MODES, EcgModel, backbone_in_channels, nan_safe_tabular
from base_models.layers import param_groups

__all__ = [
    "FUSION_MODES",
    "HEAD_HPARAMS",
    "BaseModelsError",
    "DuplicateModelError",
    "EcgModel",
    "InputShapeError",
    "InvalidHParamError",
    "ModelInterfaceError",
    "UnknownModelError",
    "UntrustedModelError",
    "backbone_in_channels",
    "check_allowed",
    "check_hparam_values",
    "check_model_interface",
    "create_model",
    "family_ranges",
    "get_model_info",
    "is_registered",
    "list_models",
    "materialized_kernels",
    "model_hparams",
    "nan_safe_tabular",
    "param_groups",
    "register_model",
    "resolve_model_fn",
    "user_module_imported",
]
