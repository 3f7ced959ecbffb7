"""Reading node configuration files: validated with file, line and field, paths resolved."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from adapterctl.configfile import load_config
from adapterctl.errors import UsageError
from adapterctl.model.node import NodeConfig
from adapterctl.serving.commitcheck import CommitAnchors


@dataclass(frozen=True)
class Node:
    """A node configuration with its paths resolved against the file's folder."""

    file: str
    config: NodeConfig
    base_path: Path
    cache_dir: Path
    commit_anchors: CommitAnchors
    """What signed environment commits are checked with."""
    adapter_trust: Path | None

    @property
    def name(self) -> str:
        return str(self.config.name)

    @property
    def endpoint(self) -> str:
        return str(self.config.endpoint).rstrip("/")

    @property
    def api_key(self) -> str | None:
        """The key from the environment variable the configuration names (never the file)."""
        variable = self.config.api_key_env
        return None if variable is None else os.environ.get(variable) or None

    def base_served_name(self, manifest_name: str) -> str:
        return str(self.config.base.served_name or manifest_name)


def load_node(path: Path) -> Node:
    """The node configuration at ``path``; a bad file raises with its first problem."""
    config = load_config(path, NodeConfig, "a node configuration", "--node-config")
    return _resolved(str(path), config, path.parent)


def load_nodes(paths: list[Path], env: str | None) -> list[Node]:
    """Every node; refuses duplicates and nodes of another environment than ``env``."""
    nodes = [load_node(path) for path in paths]
    names = [node.name for node in nodes]
    for node in nodes:
        if names.count(node.name) > 1:
            raise UsageError(f"{node.file}: node name '{node.name}' is used by another file")
        if env is not None and node.config.environment != env:
            raise UsageError(
                f"{node.file}: node '{node.name}' serves {node.config.environment}, not {env}"
            )
    return nodes


def _resolved(shown: str, config: NodeConfig, folder: Path) -> Node:
    def path(value: str) -> Path:
        return (folder / value).resolve()

    def optional(value: str | None) -> Path | None:
        return None if value is None else path(value)

    return Node(
        shown,
        config,
        path(config.base.path),
        path(config.cache_dir),
        CommitAnchors.of(config.trust, folder),
        optional(config.trust.adapters),
    )
