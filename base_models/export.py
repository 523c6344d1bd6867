"""Export helpers: make any registered model traceable for ONNX at a fixed length.

Most families export as they are. A family whose forward pass uses operations ONNX
cannot express (the complex arithmetic of the ``s4d`` kernel) implements
``materialize_kernel(length | None)`` on its sub-modules: with a length, the module
computes its real convolution kernel once and runs it as an ordinary (depthwise)
convolution; with ``None`` it returns to its training path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from base_models.layers import check_int


@contextmanager
def materialized_kernels(model: nn.Module, length: int) -> Iterator[nn.Module]:
    """Inside the block, every sub-module with ``materialize_kernel`` runs a fixed real
    kernel valid for inputs of up to ``length`` samples; a no-op for the other families.

    >>> with materialized_kernels(model, window):
    ...     torch.onnx.export(model, (torch.zeros(2, leads, window),), path, dynamo=False)
    """
    check_int("length", length)
    hooks = [m for m in model.modules() if callable(getattr(m, "materialize_kernel", None))]
    try:
        for module in hooks:
            module.materialize_kernel(length)  # type: ignore[operator]
        yield model
    finally:
        for module in hooks:
            module.materialize_kernel(None)  # type: ignore[operator]
