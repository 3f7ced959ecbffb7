"""A base refresh across real nodes, blue-green: two reference nodes serve staging, one on
tiny-llama@r1 and one on tiny-llama@r2, behind a real gateway; ``promote-base`` is merged,
the r1 node refuses the new commit (its base is not r2: ``base-fingerprint``) and keeps serving, the r2 node loads
the new revisions, the gateway moves the traffic when it follows the commit, and the revert
brings it back to the r1 node, which never stopped serving. Every request in between is
answered."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import isolate_git
from tests.gatewayproc import Gateway, ask, start
from tests.synccheckout import Checkout, cli
from tests.syncnode import Faults, RuntimeNode, runtime_node

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
R1_TEMPLATE = "sha256:356889ffe307e5936e268508a8f355b28d52b0c035143ee59f0d2fee24e21d1a"
R2_TEMPLATE = "sha256:5766757cb80e9a6ccdd4389fe3d001341a52d2ee6ba8e8abe0a7e169b7513346"


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Checkout[RuntimeNode], RuntimeNode, Path, Gateway]]:
    with runtime_node() as blue, runtime_node(revision="r2") as green:
        checkout = Checkout(tmp_path, blue, blue.url, Faults())
        green_config = tmp_path / "node-b.yaml"
        green_config.write_text(
            checkout.config.read_text()
            .replace("name: node-a", "name: node-b")
            .replace(blue.url, green.url)
            .replace(f"cache_dir: {checkout.cache}", f"cache_dir: {tmp_path / 'cache-b'}")
        )  # fmt: skip
        for line in checkout.config.read_text().splitlines():
            if line.startswith("base:"):
                green_text = green_config.read_text().replace(line, _base_line(line))
                green_config.write_text(green_text)
        gateway = Gateway(tmp_path / "gateway", checkout)
        yield checkout, green, green_config, gateway
        assert gateway.stop() in (None, 0), gateway.output()


def _base_line(line: str) -> str:
    r1 = "e118e5aef1730b158648e04bed654af3e2165571d313a8ff597e3506a6591c68"
    r2 = "486296119a87801512a105d1beaaba030e8ee8f31b78a5236b406c4f46e388fb"
    return line.replace(r1, r2)


def _on_r2(checkout: Checkout[RuntimeNode], alias: str) -> None:
    """``alias@2.0.0``: ``alias@1.1.0``'s artifact (and so its signature) against r2."""
    folder = checkout.root / "adapters" / alias
    text = (folder / "1.1.0.yaml").read_text()
    text = (
        text.replace("version: 1.1.0", "version: 2.0.0")
        .replace("base: {name: tiny-llama, revision: r1}", "base: {name: tiny-llama, revision: r2}")
        .replace(R1_TEMPLATE, R2_TEMPLATE)
    )
    (folder / "2.0.0.yaml").write_text(text)
    shutil.copyfile(folder / "1.1.0.sigstore.json", folder / "2.0.0.sigstore.json")


def _sync(
    capsys: pytest.CaptureFixture[str], checkout: Checkout[RuntimeNode], *configs: Path
) -> tuple[int, str]:
    nodes = [arg for config in configs for arg in ("--node-config", config)]
    code, out, _ = cli(capsys, "sync", "--env", "staging", *nodes, "--root", checkout.root)
    return code, out


def _merge(checkout: Checkout[RuntimeNode], branch: str) -> str:
    checkout.git(
        "merge", "-q", "--no-ff", "-m", f"Merge pull request #1 from example-org/{branch}", branch
    )
    return checkout.git("rev-parse", "HEAD")


def test_a_base_refresh_moves_traffic_from_the_r1_pool_to_the_r2_pool_and_back(
    fleet: tuple[Checkout[RuntimeNode], RuntimeNode, Path, Gateway],
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkout, green, green_config, gw = fleet
    _on_r2(checkout, "support-bot")
    _on_r2(checkout, "sql-helper")
    checkout.git("add", "-A")
    checkout.git(
        "commit", "-q", "-m", "Register support-bot and sql-helper 2.0.0 for tiny-llama@r2"
    )
    assert _sync(capsys, checkout, checkout.config)[0] == 0  # the r1 pool serves staging
    start(gw, {"node-a": f"{checkout.node.url}/v1", "node-b": f"{green.url}/v1"})
    gw.wait_routes("support-bot", "1.1.0", ["node-a"])
    assert ask(gw) == "support-bot@1.1.0"

    code, _, err = cli(capsys, "promote-base", "tiny-llama@r2", "--env", "staging",
                       "--root", checkout.root, "--store", checkout.store.as_uri())  # fmt: skip
    assert code == 0, err
    refreshed = _merge(checkout, "promote-base/staging/tiny-llama-r2")

    # One sync of both pools: the r1 node cannot take it, the r2 node loads the new revisions
    # (each node's base folder judged on its own, though each folder is read once a sync).
    code, out = _sync(capsys, checkout, checkout.config, green_config)
    assert code == 1
    r1_folder = checkout.config.read_text().split("base: {path: ")[1].split(",")[0]
    assert out.splitlines()[1:3] == [
        f"  node-a  FAILED     base-fingerprint: the local base at {r1_folder} is not tiny-llama "
        "r2: its chat_template_digest differ from the base manifest; nothing loaded or unloaded",
        "  node-b  converged  load support-bot@2.0.0, load sql-helper@2.0.0",
    ]
    assert set(checkout.node.engine.loras()) == {"support-bot@1.1.0", "sql-helper@1.1.0"}
    assert set(green.engine.loras()) == {"support-bot@2.0.0", "sql-helper@2.0.0"}
    assert ask(gw) == "support-bot@1.1.0"  # the gateway still routes by the old commit
    gw.reload(refreshed)
    gw.wait_routes("support-bot", "2.0.0", ["node-b"])
    gw.wait_routes("sql-helper", "2.0.0", ["node-b"])  # a poll during the sync saw one of two
    assert ask(gw) == "support-bot@2.0.0"
    assert ask(gw, "sql-helper") == "sql-helper@2.0.0"

    code, _, err = cli(capsys, "rollback", "--env", "staging", "support-bot",
                       "--root", checkout.root, "--store", checkout.store.as_uri())  # fmt: skip
    assert code == 0, err
    branch = err.split()[2]
    reverted = _merge(checkout, branch)
    gw.reload(reverted)
    gw.wait_routes("support-bot", "1.1.0", ["node-a"])
    gw.wait_routes("sql-helper", "1.1.0", ["node-a"])
    assert ask(gw) == "support-bot@1.1.0"  # back on the r1 pool, which never stopped serving
    assert ask(gw, "sql-helper") == "sql-helper@1.1.0"
    code, out = _sync(capsys, checkout, checkout.config)
    assert (code, out.splitlines()[1]) == (0, "  node-a  converged  no changes"), out
