"""Who signed each artifact: ``--signers FILE``, the identities ``adapterctl verify``
accepted.

A YAML (or JSON) mapping of ``NAME@VERSION`` to the identity, or identities, that signed
that revision's artifact::

    support-bot@1.2.0: svc-train-pipeline@example.internal
    sql-helper@1.1.0: [jdoe@example.internal, svc-train-pipeline@example.internal]

The policy check takes the signers from the verifier instead of reading signature bundles
itself, so it stays offline and independent of the signing backend; identities become
GitHub logins through ``people`` in teams.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ConfigDict, RootModel

from adapterctl.model.common import Text, pattern_type
from adapterctl.policy.sources import read_file

if TYPE_CHECKING:  # a validated string; mypy sees str
    AdapterKey = str
else:
    AdapterKey = pattern_type(
        "adapter_key",
        r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?@[0-9A-Za-z.+-]+$",
        "An adapter revision: NAME@VERSION.",
        "'{value}' is not NAME@VERSION, e.g. support-bot@1.2.0",
    )


class Signers(RootModel[dict[AdapterKey, Text | tuple[Text, ...]]]):
    """``NAME@VERSION`` → the identity or identities that signed its artifact."""

    model_config = ConfigDict(frozen=True)

    def of(self, name: str, version: str) -> tuple[str, ...]:
        value = self.root.get(f"{name}@{version}", ())
        return (value,) if isinstance(value, str) else value


def read_signers(path: Path | None) -> Signers:
    """The signers file, or an empty mapping when none is given."""
    if path is None:
        return Signers({})
    return read_file(path, str(path), Signers)
