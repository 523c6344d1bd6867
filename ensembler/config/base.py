"""Shared pydantic base for config sections: unknown keys are errors."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    create_model,
    model_serializer,
)


class Section(BaseModel):
    """A config section; unknown fields are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)


class PartialSection(Section):
    """A section of overrides: only the fields given are set, and only they serialise.

    Built by :func:`partial_of`; ``overrides()`` is what a member changes.
    """

    #: the section whose fields this one overrides (set by :func:`partial_of`)
    partial_of: ClassVar[type[Section] | None] = None

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):  # an unset nested section (None): dropped by its parent
            return data
        return {k: v for k, v in data.items() if k in self.model_fields_set}

    def overrides(self) -> dict[str, Any]:
        """The fields given (nested sections: their given fields), as plain values."""
        return self.model_dump()


def partial_of(model: type[Section], name: str) -> type[PartialSection]:
    """``model`` with every field optional: a field left out stays unset (it is not None).

    A given value is validated with the field's own type and constraints (a field that
    does not allow None refuses an explicit null); nested sections become partial too.
    pydantic has no "partial model" of its own, hence this small builder.
    """
    fields: dict[str, Any] = {}
    for fname, info in model.model_fields.items():
        ann: Any = info.annotation
        if isinstance(ann, type) and issubclass(ann, Section):
            ann = partial_of(ann, f"{ann.__name__}Override")
        if info.metadata:
            ann = Annotated.__class_getitem__((ann, *info.metadata))  # type: ignore[attr-defined]
        fields[fname] = (ann, None)
    out = create_model(name, __base__=PartialSection, __module__=model.__module__, **fields)
    out.partial_of = model
    out.__doc__ = f"Overrides of {model.__name__}: any of its fields, each optional."
    return out
