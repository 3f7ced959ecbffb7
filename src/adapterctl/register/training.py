"""The training hand-over record: the file a training pipeline exports for ``register``.

Its format is the ``training`` section of a revision manifest (recipe, datasets, data
scope, trained_by, evaluation), as a YAML or JSON file validated against
``schemas/training-record.schema.json``; see docs/training-handover.md.
"""

from __future__ import annotations

from pathlib import Path

from adapterctl.findings import Finding, Location, Severity
from adapterctl.gates.schema import validate
from adapterctl.model.common import kind
from adapterctl.model.revision import Training
from adapterctl.yamlio import YamlError, read


def load_training(path: Path, display: str) -> tuple[Training | None, list[Finding]]:
    """The record in ``path``, or None with findings that point at its lines."""
    try:
        data, source = read(path, display)
    except FileNotFoundError:
        message = "no such training record"
        hint = "export it from the training pipeline (docs/training-handover.md)"
        return None, [Finding("training/missing", Severity.ERROR, Location(display), message, hint)]
    except YamlError as exc:
        return None, [exc.finding(display)]
    if not isinstance(data, dict):
        message = f"expected a mapping of fields at the top level, got {kind(data)}"
        return None, [Finding("schema/invalid-value", Severity.ERROR, source.locate(()), message)]
    return validate(Training, data, source)
