"""Merging a LoRA adapter into full weights, and proving the merged model equivalent."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from adapterctl.errors import InputError

NEEDED = ("torch", "transformers", "peft")


def missing() -> str | None:
    """Why merging cannot run here (the ``serve`` extra is not installed), else None."""
    absent = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return f"merging needs {', '.join(absent)} (the serve extra): pip install 'adapterctl[serve]'"


def require() -> None:
    """InputError naming the missing packages, before any work."""
    reason = missing()
    if reason is not None:
        raise InputError(reason)


@contextmanager
def quiet() -> Iterator[None]:
    """Without transformers' and PEFT's progress bars and warnings about their internals:
    the command's own output is the record."""
    from transformers.utils import logging as hf_logging  # noqa: PLC0415 - heavy

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
