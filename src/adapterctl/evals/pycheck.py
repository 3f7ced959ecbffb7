"""Loading the function a ``python`` assertion names, from a file inside the registry.

Only ``path/to/file.py:function`` or ``package.module:function`` below the registry root;
never a string to evaluate. Each load runs the file afresh (no ``__pycache__`` written
into the registry, no module left in ``sys.modules``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from adapterctl.evals.textmetrics import quote

_FILE_REF = re.compile(r"^(?P<path>.+\.py):(?P<name>[A-Za-z_]\w*)$")
_MODULE_REF = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<name>[A-Za-z_]\w*)$")
_loads_counter = itertools.count()


class PythonCheckError(Exception):
    """The function cannot be loaded; ``reason`` says why, in one sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NoBytecodeLoader(importlib.machinery.SourceFileLoader):
    """Loads a check's source without writing __pycache__ into the registry."""

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:  # noqa: ARG002
        return None


def load_function(ref: str, root: Path) -> Callable[[str, dict[str, Any]], object]:
    """The function ``path/to/file.py:name`` or ``package.module:name``, both in ``root``."""
    if found := _FILE_REF.match(ref):
        relative = found["path"]
    elif found := _MODULE_REF.match(ref):
        relative = found["module"].replace(".", "/")
        package = f"{relative}/__init__.py"
        relative = package if (root / package).is_file() else f"{relative}.py"
    else:
        raise PythonCheckError(f"'python' needs path/to/file.py:function, not {quote(ref)}")
    function = getattr(_load_file(relative, root), found["name"], None)
    if not callable(function):
        raise PythonCheckError(f"{relative} has no function {found['name']}")
    return cast(Callable[[str, dict[str, Any]], object], function)


def _load_file(relative: str, root: Path) -> ModuleType:
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise PythonCheckError(f"{relative} is outside the registry root")
    if not path.is_file():
        raise PythonCheckError(f"{relative} does not exist in the registry")
    name = f"_adapterctl_check_{next(_loads_counter)}"
    loader = _NoBytecodeLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # for dataclasses and the like while it runs
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        raise PythonCheckError(f"cannot load {relative}: {describe(exc)}") from None
    finally:
        sys.modules.pop(name, None)
    return module


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
