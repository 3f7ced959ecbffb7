"""Finding the registry root and its settings (``[tool.adapterctl]`` in pyproject.toml)."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from adapterctl.errors import InputError, UsageError
from adapterctl.layout import ROOTS

STORE_ENV = "ADAPTERCTL_STORE"


def settings(root: Path) -> dict[str, object]:
    """The ``[tool.adapterctl]`` table of ``root/pyproject.toml`` (empty when absent)."""
    table = _tool(root / "pyproject.toml").get("adapterctl")
    return table if isinstance(table, dict) else {}


def _tool(pyproject: Path) -> dict[str, object]:
    """The ``[tool]`` table of ``pyproject`` (empty when there is no file or no such table);
    InputError when it is not TOML."""
    try:
        with pyproject.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise _not_toml(pyproject, str(exc)) from None
    except UnicodeDecodeError as exc:
        raise _not_toml(pyproject, f"not UTF-8 (byte 0x{exc.object[exc.start]:02x})") from None
    except RecursionError:
        raise _not_toml(pyproject, "nested too deeply") from None
    except ValueError:  # an integer longer than Python converts
        digits = sys.get_int_max_str_digits()
        raise _not_toml(pyproject, f"a number has over {digits} digits") from None
    tool = document.get("tool")
    return tool if isinstance(tool, dict) else {}


def _not_toml(pyproject: Path, reason: str) -> InputError:
    return InputError(
        f"{_shown(pyproject)}: not valid TOML: {reason}",
        hint="fix the file: its [tool.adapterctl] table configures this registry",
    )


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _declares_registry(pyproject: Path) -> bool:
    """Whether ``pyproject`` has a ``[tool.adapterctl]`` table; a file that is not TOML (a
    parent folder's, say) declares nothing."""
    try:
        return "adapterctl" in _tool(pyproject)
    except InputError:
        return False


def store_uri(root: Path, flag: str | None) -> str:
    """The artifact store: ``--store``, else $ADAPTERCTL_STORE, else pyproject's ``store``."""
    uri = flag or os.environ.get(STORE_ENV) or settings(root).get("store")
    if uri is not None and not isinstance(uri, str):
        raise InputError(
            f"{_shown(root / 'pyproject.toml')}: [tool.adapterctl] store: expected a store "
            f"URI string (file://… or s3://…), got {uri!r}"
        )
    if not isinstance(uri, str) or not uri:
        raise UsageError(
            "no artifact store configured",
            hint=f"pass --store URI, set {STORE_ENV}, or set store in [tool.adapterctl]",
        )
    return uri


def find_root(start: Path) -> Path:
    """The nearest ancestor of ``start`` that is an adapterctl registry.

    A registry is marked by a pyproject.toml with a ``[tool.adapterctl]`` table, or, failing
    that, by an ``adapters/``, ``bases/`` or ``environments/`` folder.
    """
    start = start.resolve()
    candidates = [start, *start.parents]
    for folder in candidates:
        if _declares_registry(folder / "pyproject.toml"):
            return folder
    for folder in candidates:
        if any((folder / top).is_dir() for top in ROOTS):
            return folder
    raise UsageError(
        f"{start} is not inside an adapterctl registry",
        hint="run it in a registry checkout, or pass --root "
        "(a registry has pyproject.toml with [tool.adapterctl], or adapters/ and environments/)",
    )


def relative_path(root: Path, path: Path) -> str:
    """``path`` (relative to cwd, or absolute) as a ``/``-separated path inside ``root``."""
    absolute = path if path.is_absolute() else Path.cwd() / path
    candidate = absolute.parent.resolve() / absolute.name
    if not candidate.is_relative_to(root):
        raise UsageError(f"{path}: outside the repository at {root}")
    relative = candidate.relative_to(root).as_posix()
    return "" if relative == "." else relative


def resolve_root(root: Path | None) -> Path:
    """``--root`` when given (it must be a directory), otherwise the registry around cwd."""
    if root is None:
        return find_root(Path.cwd())
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a directory")
    return root.resolve()
