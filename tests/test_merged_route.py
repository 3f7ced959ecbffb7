"""A merged base canaried against the adapter it came from, across real nodes: a reference
node serves tiny-llama@r1 with support-bot@1.1.0 loaded by sync, a second serves the merged
support-bot-merged@r1 alone, a real gateway routes the alias by the environment. ``promote``
of the merged base writes the route (its trigger in the pull-request body), the gateway
splits the alias between the two pools by sticky hash and labels each side in its metrics,
and the rollback (one revert) takes the merged base out of traffic."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from adapterctl.canary import analysis
from adapterctl.canary.judge import Pair
from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from tests.conftest import REPO, isolate_git
from tests.gatewayproc import Gateway, ask, start
from tests.refnode import serving_app
from tests.synccheckout import STAGING, Checkout, cli
from tests.syncnode import Faults, RuntimeNode, runtime_node
from tests.test_signing_attacks import write_trust
from tests.test_signing_pki import IDENTITY

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
MERGED = "support-bot-merged@r1"
REASON = "p95 budget 300 ms; adapter path 340 ms (OPS-12)"
CALLERS = [f"caller-{i}" for i in range(60)]


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))


@contextlib.contextmanager
def merged_node(weights: Path) -> Iterator[RuntimeNode]:
    """A reference node serving the merged weights alone, as ``support-bot-merged@r1``."""
    engine = Engine(weights, served_model_name=MERGED, max_loras=1)
    with serving_app(create_app(engine)) as url:
        yield RuntimeNode(url, engine)


def _merge_support_bot(
    capsys: pytest.CaptureFixture[str], checkout: Checkout[RuntimeNode], tmp: Path
) -> Path:
    """``adapterctl merge`` for real, committed; the merged weights' folder in the store."""
    trust = write_trust(tmp / "verifier", f"{{identity: {IDENTITY}, key: "
                        f"{REPO / 'examples/keys/train-pipeline.pub'}}}")  # fmt: skip
    code, _, err = cli(capsys, "merge", "support-bot@1.1.0", "--name", "support-bot-merged",
                       "--revision", "r1", "--trigger", "latency", "--reason", REASON,
                       "--trust", trust, "--root", checkout.root,
                       "--store", checkout.store.as_uri())  # fmt: skip
    assert code == 0, err
    checkout.git("add", "-A")
    checkout.git("commit", "-q", "-m", "Merge support-bot@1.1.0 into support-bot-merged@r1")
    manifest = yaml.safe_load((checkout.root / "bases/support-bot-merged/r1.yaml").read_text())
    digest = str(manifest["weights_artifact"])
    return checkout.store / "sha256" / digest.removeprefix("sha256:")


def _merge_branch(checkout: Checkout[RuntimeNode], branch: str) -> str:
    checkout.git(
        "merge", "-q", "--no-ff", "-m", f"Merge pull request #1 from example-org/{branch}", branch
    )
    return checkout.git("rev-parse", "HEAD")


def test_a_merged_base_is_canaried_against_its_adapter_and_rolled_back_by_revert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with runtime_node() as adapters:
        checkout = Checkout(tmp_path, adapters, adapters.url, Faults())
        weights = _merge_support_bot(capsys, checkout, tmp_path)
        with merged_node(weights) as merged:
            _canary_and_rollback(capsys, checkout, merged, Gateway(tmp_path / "gw", checkout))


def _canary_and_rollback(
    capsys: pytest.CaptureFixture[str],
    checkout: Checkout[RuntimeNode],
    merged: RuntimeNode,
    gw: Gateway,
) -> None:
    sync = ("sync", "--env", "staging", "--node-config", checkout.config, "--root", checkout.root)
    assert cli(capsys, *sync)[0] == 0
    start(gw, {"node-a": f"{checkout.node.url}/v1", "node-m": f"{merged.url}/v1"})
    try:
        gw.wait_routes("support-bot", "1.1.0", ["node-a"])

        code, body, err = cli(capsys, "promote", MERGED, "--env", "staging", "--weight", "25",
                              "--root", checkout.root, "--store", checkout.store.as_uri())  # fmt: skip
        assert code == 0, err
        assert "### Merged base" in body
        assert f"- **Trigger:** latency — {REASON}" in body
        assert "| `support-bot-merged@r1` | — | 25 % |" in body
        assert err.startswith("created branch promote/staging/support-bot-support-bot-merged")
        canary = _merge_branch(checkout, err.split()[2])
        routes = yaml.safe_load((checkout.root / STAGING).read_text())["routes"]["support-bot"]
        assert routes == [{"version": "1.1.0", "weight": 75}, {"base": MERGED, "weight": 25}]
        assert cli(capsys, "validate", "--root", checkout.root)[0] == 0
        pair = analysis.target(checkout.root, "staging", "support-bot").pair
        assert (pair, pair.versions) == (  # the judge compares the gateway's version labels
            Pair(MERGED, "support-bot@1.1.0", "support-bot"),
            ("1.1.0", MERGED),
        )

        code, out, _ = cli(capsys, *sync)  # the adapter pool has nothing to load for it
        assert (code, out.splitlines()[1]) == (0, "  node-a  converged  no changes"), out
        gw.reload(canary)
        gw.wait_routes("support-bot", MERGED, ["node-m"])
        answers = {user: ask(gw, user=user) for user in CALLERS}
        assert set(answers.values()) == {"support-bot@1.1.0", MERGED}
        assert {user: ask(gw, user=user) for user in CALLERS[:10]} == {
            user: answers[user] for user in CALLERS[:10]
        }  # sticky: the same caller, the same side
        counted = gw.metric("adapterctl_gateway_requests_total", alias="support-bot",
                            version=MERGED, node="node-m", code="2xx")  # fmt: skip
        merged_callers = [user for user, model in answers.items() if model == MERGED]
        assert counted == len(merged_callers) + len(set(merged_callers) & set(CALLERS[:10]))

        code, _, err = cli(capsys, "rollback", "--env", "staging", "support-bot",
                           "--root", checkout.root, "--store", checkout.store.as_uri())  # fmt: skip
        assert code == 0, err
        gw.reload(_merge_branch(checkout, err.split()[2]))
        assert {ask(gw, user=user) for user in CALLERS} == {"support-bot@1.1.0"}
        code, out, err = cli(capsys, "history", "--env", "staging", "--root", checkout.root)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[2:4] == [
            "    set weight support-bot@1.1.0 75 -> 100",
            f"    stop routing to {MERGED} (merged base, was weight 25)",
        ]
        assert lines[6:8] == [
            "    set weight support-bot@1.1.0 100 -> 75",
            f"    route to {MERGED} (merged base, weight 25)",
        ]
    finally:
        assert gw.stop() in (None, 0), gw.output()
