"""Rebuild the example registry's artifacts and manifests from the trained example kit.

``python -m examples.build_registry`` trains the kit's models (``examples.train``: seeded,
deterministic on CPU, about a minute), registers the bases and adapters into
``examples/store``, copies the golden suites, rewrites the manifests and signs every
revision with the example-only key in ``examples/keys/``. Descriptions,
creation dates and training records are carried over from the manifests already in the
repository. Run it only when the kit changes: revisions are otherwise immutable.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from adapterctl import layout
from adapterctl.model import BaseRef
from adapterctl.register.adapter import Candidate, register_adapter
from adapterctl.register.base import register_base
from adapterctl.registry import Registry
from adapterctl.signing.sign import KeySigner, revision_subject, sign_subject
from adapterctl.store.filestore import FileStore
from examples.train import main as train

REPO = Path(__file__).resolve().parent.parent
#: The example-only signing key (examples/keys/README.md): signs every example revision.
SIGNING_KEY = REPO / "examples" / "keys" / "train-pipeline.pem"
#: base manifest (name, revision) → kit directory, source and creation date.
BASES = {
    ("tiny-llama", "r1"): ("tiny-llama-r1", "2026-11-01T08:00:00Z", True),
    ("tiny-llama", "r2"): ("tiny-llama-r2", "2026-11-22T08:00:00Z", True),
    ("tiny-llama-wide", "r1"): ("tiny-llama-wide", "2026-11-01T08:00:00Z", False),
}
#: golden suites the kit writes → where the registry keeps them.
SUITES = {
    "golden/support-bot/refunds.yaml": "adapters/support-bot/golden/refunds.yaml",
    "golden/sql-helper/basics.yaml": "adapters/sql-helper/golden/basics.yaml",
}
#: adapter revisions (line, version) → kit directory; all trained on tiny-llama@r1.
ADAPTERS = {
    ("support-bot", "1.0.0"): "support-bot-1.0.0",
    ("support-bot", "1.1.0"): "support-bot-1.1.0",
    ("support-bot", "1.2.0"): "support-bot-1.2.0",
    ("sql-helper", "1.0.0"): "sql-helper-1.0.0",
    ("sql-helper", "1.1.0"): "sql-helper-1.1.0",
}


def _epoch(timestamp: str) -> str:
    return str(int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()))


def _previous(root: Path, path: str) -> dict[str, Any]:
    file = root / path
    if not file.is_file():
        return {}
    data = yaml.safe_load(file.read_text("utf-8"))
    file.unlink()
    return data if isinstance(data, dict) else {}


def build(root: Path, kit: Path) -> None:
    """Register the kit's bases and adapters into ``root`` (a registry checkout)."""
    store = FileStore(root / "examples" / "store", "file://examples/store")
    for (name, revision), (directory, created, weights) in BASES.items():
        _previous(root, layout.base_path(name, revision))
        os.environ["SOURCE_DATE_EPOCH"] = _epoch(created)
        register_base(
            root,
            kit / "bases" / directory,
            store,
            name=name,
            revision=revision,
            source=f"examples/train ({directory})",
            store_weights=weights,
        )
    for source, target in SUITES.items():
        shutil.copyfile(kit / source, root / target)
    for (name, version), directory in ADAPTERS.items():
        old = _previous(root, layout.revision_path(name, version))
        _register(root, store, kit / "adapters" / directory, name, version, old)
        _sign(root, store, name, version)


def _register(
    root: Path, store: FileStore, adapter: Path, name: str, version: str, old: dict[str, Any]
) -> None:
    os.environ["SOURCE_DATE_EPOCH"] = _epoch(old["created"].isoformat())
    with tempfile.TemporaryDirectory() as tmp:
        training = Path(tmp) / "training.yaml"
        training.write_text(yaml.safe_dump(old["training"], sort_keys=False), "utf-8")
        candidate = Candidate(
            adapter_dir=adapter,
            name=name,
            version=version,
            base=BaseRef(name="tiny-llama", revision="r1"),
            training_file=training,
            description=old["description"],
        )
        written, findings = register_adapter(Registry.load(root), store, candidate)
    if written is None:
        raise SystemExit("\n".join(f"{f.location} {f.rule}: {f.message}" for f in findings))


def _sign(root: Path, store: FileStore, name: str, version: str) -> None:
    """Sign the revision with the example key (a rebuilt artifact needs a new bundle)."""
    revision = Registry.load(root).revision(name, version)
    if revision is None:
        raise SystemExit(f"{name}@{version}: the manifest just written is not valid")
    sign_subject(root, revision_subject(revision), store, KeySigner(SIGNING_KEY), force=True)


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO
    with tempfile.TemporaryDirectory(prefix="adapterctl-kit-") as tmp:
        train(Path(tmp))
        build(root, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
