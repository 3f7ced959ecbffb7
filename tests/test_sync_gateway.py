"""A sync unloads a revision only after the gateways in front of the node route by the synced
commit and have no request in flight to it there: a real gateway, a stream held open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import isolate_git
from tests.gatewayproc import Gateway, client, start
from tests.heldstream import holding
from tests.synccheckout import Checkout, head, sync
from tests.syncnode import RuntimeNode, fault_proxy, runtime_node

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
OLD = "    - {version: 1.1.0, weight: 100}\n  sql"
NEW = "    - {version: 1.0.0, weight: 100}\n    - {version: 1.1.0, weight: 0}\n  sql"


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Checkout[RuntimeNode], Gateway]]:
    with runtime_node() as node, fault_proxy(node.url) as (proxy, faults):
        checkout = Checkout(tmp_path, node, proxy, faults)
        gateway = Gateway(tmp_path / "gateway", checkout)
        yield checkout, gateway
        assert gateway.stop() in (None, 0), gateway.output()


def test_an_unload_waits_for_the_gateway_and_for_traffic_to_leave(
    setup: tuple[Checkout[RuntimeNode], Gateway], capsys: pytest.CaptureFixture[str]
) -> None:
    checkout, gw = setup
    assert sync(capsys, checkout)[0] == 0
    with holding(checkout.node.url) as (held, hold):
        start(gw, {"node-a": f"{held}/v1"})
        checkout.write_config(_endpoint(checkout), gateways=f"[{gw.url}]")
        checkout.config.write_text(
            checkout.config.read_text().replace(
                "timeout_s: 60}", "timeout_s: 60, gateway_wait_s: 1}"
            )
        )
        api = client(gw)
        stream = api.chat.completions.create(
            model="support-bot",
            messages=[{"role": "user", "content": "Where is my refund?"}],
            max_tokens=8,
            stream=True,
        )
        first = next(stream)
        assert hold.held.wait(30)
        old = gw.routes()["commit"]
        new = checkout.route(OLD, NEW, "Finish support-bot 1.0.0")

        code, out = sync(capsys, checkout)
        assert code == 1
        assert out.splitlines()[1] == (
            f"  node-a  FAILED     gateway-not-drained: gateway {gw.url} routes by "
            f"{str(old)[:12]}, not {new[:12]} after 1 s; nothing unloaded (the next sync "
            "unloads once traffic has left) (done: load support-bot@1.0.0)"
        )
        gw.reload(new)
        code, out = sync(capsys, checkout)
        assert code == 1
        assert out.splitlines()[1] == (
            f"  node-a  FAILED     gateway-not-drained: gateway {gw.url} has 1 request in flight "
            "to support-bot@1.1.0 on node-a after 1 s; nothing unloaded (the next sync unloads "
            "once traffic has left)"
        )
        assert "support-bot@1.1.0" in checkout.node.engine.loras()

        hold.release.set()
        chunks = [first, *stream]
        api.close()
    assert chunks[-1].choices[0].finish_reason == "length"
    assert {c.model for c in chunks} == {"support-bot@1.1.0"}
    assert sync(capsys, checkout) == (
        0,
        f"sync staging at {head(checkout)} (1 node)\n"
        "  node-a  converged  unload support-bot@1.1.0\n"
        "✓ 1 node converged\n",
    )


def _endpoint(checkout: Checkout[RuntimeNode]) -> str:
    """The endpoint the node configuration has now (the fault proxy's root URL)."""
    line = next(x for x in checkout.config.read_text().splitlines() if x.startswith("endpoint:"))
    return line.removeprefix("endpoint: ").removesuffix("/v1")
