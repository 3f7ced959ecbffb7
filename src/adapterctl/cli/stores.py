"""Opening the artifact store a command was pointed at."""

from __future__ import annotations

from pathlib import Path

from adapterctl.config import store_uri
from adapterctl.store.base import Store
from adapterctl.store.uri import open_store


def store_for(root: Path, flag: str | None, endpoint_url: str | None) -> Store:
    """``--store`` (or $ADAPTERCTL_STORE), else the registry's configured store."""
    return open_store(store_uri(root, flag), endpoint_url=endpoint_url, base=root)
