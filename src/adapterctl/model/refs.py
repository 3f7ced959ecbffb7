"""References between registry documents."""

from __future__ import annotations

from adapterctl.model.common import BaseName, Frozen, Name, Revision, SemVer


class BaseRef(Frozen):
    """Names a base model manifest, ``bases/<name>/<revision>.yaml``."""

    name: BaseName
    """The base model's name (its folder under bases/)."""
    revision: Revision
    """The base model revision (its file name under bases/<name>/)."""

    def __str__(self) -> str:
        return f"{self.name}@{self.revision}"


class AdapterRef(Frozen):
    """Names an adapter revision, ``adapters/<name>/<version>.yaml``."""

    name: Name
    """The adapter line."""
    version: SemVer
    """The revision's semantic version."""

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"
