"""Option values coerced without pydantic.

typer 0.29 turns every option value into its Python type through a pydantic
``TypeAdapter``, and importing pydantic for that costs ~0.1 s on every run (a tenth
of a 1M-row undersample). This tool's options are all ``str``, ``int``, ``float`` or
``bool``, which are coerced here, with messages short enough for one stderr line;
any other annotation still goes to typer's own coercion.

It hooks a private typer function. If a typer release moves it, the hook is not
installed and typer coerces as before (slower, same results); a test notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})


def coerce(annotation: type, value: Any) -> Any:
    """``value`` as ``annotation`` (str, int, float or bool); ValueError says why not."""
    if annotation is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE_WORDS or text in FALSE_WORDS:
            return text in TRUE_WORDS
        raise ValueError(f"{value!r} is not true or false")
    if isinstance(value, bool):  # True is an int to Python, not to a user
        raise ValueError(f"{value!r} is not a {_NAMES[annotation]}")
    if annotation is str and isinstance(value, str | int | float):
        return str(value)
    if annotation is int and isinstance(value, float):
        if value.is_integer():
            return int(value)
    elif annotation in (int, float) and isinstance(value, str | int | float):
        try:
            return annotation(value)  # int() and float() strip surrounding blanks themselves
        except (ValueError, OverflowError):  # float(10**400) overflows
            pass
    raise ValueError(f"{value!r} is not a {_NAMES[annotation]}")


_NAMES = {str: "string", int: "whole number", float: "number", bool: "true or false"}


def install() -> bool:
    """Route typer's coercion of str/int/float/bool options through :func:`coerce`.

    Returns whether the hook is in place.
    """
    try:
        from typer import _coercion
        from typer import core as typer_core
        from typer._click.exceptions import BadParameter
    except ImportError:
        return False
    original = getattr(typer_core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if getattr(original, "_rebalance_plain", False):
        return True
    if original is None or base is None:
        return False

    @dataclass(frozen=True)
    class PlainParam(base):  # type: ignore[misc,valid-type]
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return coerce(self.annotation, value)
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from None

    def build(descriptor: Any) -> Any:
        if descriptor.file_annotation is None and descriptor.annotation in _NAMES:
            return PlainParam(
                annotation=descriptor.annotation, parameter_info=descriptor.parameter_info
            )
        return original(descriptor)

    build._rebalance_plain = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = build
    return True
