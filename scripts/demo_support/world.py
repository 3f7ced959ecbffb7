"""The demo's temporary world: a registry copy, its store, hand-overs, keys and node files.

The registry is this repository's example registry as it was before support-bot 1.1.0:
the manifests and signature bundles of 1.1.0 and 1.2.0 are left out, their artifacts are
taken out of the store and set aside as the trainer's hand-overs (the PEFT folder and the
training record copied from the original manifest), and staging and prod both route
support-bot to 1.0.0.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from adapterctl.layout import ROOTS

REPO = Path(__file__).resolve().parents[2]
REGISTRY_PARTS = (*ROOTS, "schemas")
HANDED_OVER = ("1.1.0", "1.2.0")
LINE = "support-bot"
_STAGING_BEFORE = "  support-bot:\n    - {version: 1.1.0, weight: 100}\n"
_PROD_ANALYSIS = "  interval: 5m\n  count: 3\n  min_requests: 200\n"
DEMO_ANALYSIS = "  interval: 1m\n  count: 1\n  min_requests: 10\n"
"""The demo judges one minute of synthetic traffic (the example's prod: three 5-minute windows
of at least 200 requests per revision)."""
_PROD_BEFORE = "    - {version: 1.0.0, weight: 90}\n    - {version: 1.1.0, weight: 10}   # canary\n"


@dataclass(frozen=True)
class HandOver:
    """What the training pipeline hands over for one revision."""

    version: str
    folder: Path
    training: Path
    description: str


@dataclass(frozen=True)
class World:
    demo: Path

    @property
    def registry(self) -> Path:
        return self.demo / "registry"

    @property
    def store(self) -> Path:
        return self.demo / "store"

    @property
    def base(self) -> Path:
        """The nodes' local copy of the base model (production nodes hold theirs)."""
        return self.demo / "models" / "tiny-llama-r1"

    @property
    def nodes(self) -> Path:
        return self.demo / "nodes"

    @property
    def verifier_trust(self) -> Path:
        return self.demo / "ci" / "trust.yaml"

    @property
    def trainer_key(self) -> Path:
        return self.demo / "trainer" / "train-pipeline.pem"

    @property
    def release_key(self) -> Path:
        return self.demo / "keys" / "release-manager"

    @property
    def allowed_signers(self) -> Path:
        return self.nodes / "allowed_signers"

    @property
    def gitconfig(self) -> Path:
        return self.demo / "gitconfig"

    @property
    def reports(self) -> Path:
        return self.registry / "reports"

    def handover(self, version: str) -> HandOver:
        folder = self.demo / "handover" / f"{LINE}-{version}"
        manifest = _manifest(version)
        return HandOver(
            version,
            folder,
            folder.parent / f"{folder.name}.training.yaml",
            str(manifest["description"]),
        )

    def stored(self, digest: str) -> Path:
        return self.store / "sha256" / digest.removeprefix("sha256:")


def _manifest(version: str) -> dict[str, Any]:
    text = (REPO / "adapters" / LINE / f"{version}.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def digest_of(world: World, name: str, version: str) -> str:
    """The artifact digest of a revision in the demo registry."""
    text = (world.registry / "adapters" / name / f"{version}.yaml").read_text(encoding="utf-8")
    digest: str = yaml.safe_load(text)["artifact"]["digest"]
    return digest


def weights_of(world: World, name: str, revision: str) -> Path:
    """A base's weights folder in the demo store (a merged base's, written by ``merge``)."""
    text = (world.registry / "bases" / name / f"{revision}.yaml").read_text(encoding="utf-8")
    return world.stored(str(yaml.safe_load(text)["weights_artifact"]))


def base_weights_digest() -> str:
    text = (REPO / "bases" / "tiny-llama" / "r1.yaml").read_text(encoding="utf-8")
    digest: str = yaml.safe_load(text)["weights_artifact"]
    return digest


def prepare(world: World, *, analysis: bool) -> None:
    """Lay out the registry, the store, the hand-overs and the verifiers' trust files;
    prod analyses canaries over short windows (``analysis``), or not at all."""
    world.registry.mkdir(parents=True)
    for part in REGISTRY_PARTS:
        shutil.copytree(REPO / part, world.registry / part)
    (world.registry / "pyproject.toml").write_text("[tool.adapterctl]\n", encoding="utf-8")
    (world.registry / ".gitignore").write_text("/reports/\n", encoding="utf-8")
    shutil.copytree(REPO / "examples" / "store", world.store)
    shutil.copytree(world.stored(base_weights_digest()), world.base)
    for version in HANDED_OVER:
        _set_aside(world, version)
    _edit(world.registry / "environments/staging/environment.yaml", _STAGING_BEFORE,
          _STAGING_BEFORE.replace("1.1.0", "1.0.0"))  # fmt: skip
    _edit(world.registry / "environments/prod/environment.yaml", _PROD_BEFORE,
          "    - {version: 1.0.0, weight: 100}\n")  # fmt: skip
    prod = world.registry / "environments/prod/environment.yaml"
    if analysis:
        _edit(prod, _PROD_ANALYSIS, DEMO_ANALYSIS)
    else:
        _edit(prod, f"analysis:  # canary analysis before a canary grows (docs/canary.md)\n"
              f"{_PROD_ANALYSIS}", "")  # fmt: skip
    for verifier in (world.verifier_trust.parent, world.nodes):
        _trust_material(verifier)
    world.trainer_key.parent.mkdir(parents=True)
    shutil.copyfile(REPO / "examples/keys/train-pipeline.pem", world.trainer_key)
    world.trainer_key.chmod(0o600)
    for name in ("keys", "cache", "logs", "nodes/staging-cache", "nodes/prod-cache", "gateway",
                 "prometheus"):  # fmt: skip
        (world.demo / name).mkdir(parents=True, exist_ok=True)
    for name in ("summaries", "pull-requests"):
        (world.reports / name).mkdir(parents=True)


def _set_aside(world: World, version: str) -> None:
    """Move a revision's artifact out of the store into a hand-over folder."""
    manifest = _manifest(version)
    handover = world.handover(version)
    handover.folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(world.stored(manifest["artifact"]["digest"]), handover.folder)
    record = yaml.safe_dump(manifest["training"], sort_keys=False, allow_unicode=True)
    handover.training.write_text(record, encoding="utf-8")
    for suffix in (".yaml", ".sigstore.json"):
        (world.registry / "adapters" / LINE / f"{version}{suffix}").unlink()


def _edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    if old not in text:
        raise RuntimeError(f"{file}: the example routes changed; update scripts/demo_support")
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def _trust_material(folder: Path) -> None:
    """A verifier's own copy of the example trust file and the public key it names."""
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "examples/trust.yaml", folder / "trust.yaml")
    shutil.copyfile(REPO / "examples/keys/train-pipeline.pub", folder / "keys/train-pipeline.pub")


def node_config(
    world: World, name: str, env: str, port: int, gateways: tuple[str, ...] = ()
) -> Path:
    """A node's own configuration file (its trust anchors included; ``gateways``: the
    gateways in front of it, which a sync's unloads wait for)."""
    config = world.nodes / f"{name}.yaml"
    lines = [
        f"name: {name}",
        f"environment: {env}",
        f"endpoint: http://127.0.0.1:{port}/v1",
        "base:",
        f"  path: {world.base}",
        "  served_name: tiny-llama",
        f"cache_dir: {world.nodes / f'{env}-cache'}",
        f"store: {world.store.as_uri()}",
        "trust:",
        f"  allowed_signers: {world.allowed_signers}",
        f"  adapters: {world.nodes / 'trust.yaml'}",
        "sync: {retries: 3, backoff_s: 0.2, timeout_s: 60, gateway_wait_s: 60}",
        *([f"gateways: [{', '.join(gateways)}]"] if gateways else []),
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def gateway_config(world: World, node_url: str) -> Path:
    """Prod's gateway: prod's node (through the fault injector), the tenants' key file and
    the merges' allowed signers; it follows the demo registry."""
    return env_gateway_config(world, "prod", {"prod-node": node_url})


def env_gateway_config(world: World, env: str, node_urls: dict[str, str]) -> Path:
    """The gateway of ``env`` in front of ``node_urls`` (name → URL); prod's is
    gateway/gateway.yaml, another environment's gateway/ENV-gateway.yaml."""
    folder = world.demo / "gateway"
    prefix = "" if env == "prod" else f"{env}-"
    config = folder / f"{prefix}gateway.yaml"
    lines = [
        f"name: {env}-gateway",
        f"environment: {env}",
        "nodes:",
        *(f"  - {{name: {name}, endpoint: {url}/v1}}" for name, url in node_urls.items()),
        f"state_dir: {folder / f'{prefix}state'}",
        "tenants:",
        f"  keys: {folder / 'tenant-keys.yaml'}",
        "trust:",
        f"  allowed_signers: {world.allowed_signers}",
        "health_interval_s: 0.5",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def prometheus_config(world: World, gateway_port: int) -> Path:
    """Prometheus scraping prod's gateway every second."""
    config = world.demo / "prometheus" / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: adapterctl-gateway\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{gateway_port}']}}]\n",
        encoding="utf-8",
    )
    return config
