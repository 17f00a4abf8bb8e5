"""Names a package exports but imports only on first use (PEP 562), so that importing the package
does not import what only some of its names need (torch, for the SAM and learning docks)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, module_of: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``: each name of ``module_of`` is read from
    its module (relative to ``package``, e.g. ``".session"`` or ``"..device"``) when first asked for,
    then kept in the package's namespace."""
    namespace = importlib.import_module(package).__dict__
    names = sorted(module_of)

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module-level hook's name)
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of[name], package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__, names
