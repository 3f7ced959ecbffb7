"""``sync``, ``agent`` and ``status`` against real vLLM (the session's ``vllm`` fixture).

The same checkout and node configuration as tests/test_sync.py, with the node's API key
from ``api_key_env``; a fault proxy in front of vLLM forwards real HTTP and, when told,
kills vLLM itself at the moment a load arrives. After every step, ``/v1/models`` must list
exactly the desired state: the routed revisions, each from its verified cached copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.kit import AdapterSpec, make_adapter
from examples.train import PRETRAINED_BASES, R1
from tests.conftest import REPO, isolate_git
from tests.synccheckout import Checkout, agent_once, cli, head, sync
from tests.syncnode import base_path, fault_proxy
from tests.vllmnode import API_KEY, VllmServer

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

Setup = Checkout[VllmServer]
KEY_ENV = "NODE_A_VLLM_KEY"
CANARY = ("    - {version: 1.1.0, weight: 100}\n  sql",
          "    - {version: 1.1.0, weight: 90}\n    - {version: 1.2.0, weight: 10}\n  sql")  # fmt: skip


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))
    monkeypatch.setenv(KEY_ENV, API_KEY)


@pytest.fixture
def setup(tmp_path: Path, vllm: VllmServer) -> Iterator[Setup]:
    with fault_proxy(vllm.url) as (proxy, faults):
        checkout = Setup(tmp_path, vllm, proxy, faults)
        checkout.write_config(proxy, api_key_env=KEY_ENV)
        yield checkout


def served(setup: Setup, *labels: str) -> dict[str, str]:
    """What ``/v1/models`` must list: each revision from its cached copy."""
    return {label: setup.path(label) for label in labels}


def status(setup: Setup, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, out, _ = cli(capsys, "status", "--env", "staging", "--node-config", setup.config,
                       "--root", setup.root)  # fmt: skip
    return code, out


def test_push_sync_canary_finish_and_rollback(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = sync(capsys, setup)
    assert (code, out.splitlines()[1]) == (
        0, "  node-a  converged  load support-bot@1.1.0, load sql-helper@1.1.0")  # fmt: skip
    assert setup.node.loaded() == served(setup, "support-bot@1.1.0", "sql-helper@1.1.0")
    assert status(setup, capsys)[0] == 0
    setup.route(*CANARY, "Canary support-bot 1.2.0")
    assert sync(capsys, setup)[1].splitlines()[1] == "  node-a  converged  load support-bot@1.2.0"
    both = served(setup, "support-bot@1.1.0", "support-bot@1.2.0", "sql-helper@1.1.0")
    assert setup.node.loaded() == both
    finish = setup.route(
        CANARY[1].removesuffix("  sql"),
        "    - {version: 1.2.0, weight: 100}\n    - {version: 1.1.0, weight: 0}\n",
        "Finish support-bot 1.2.0",
    )
    code, out = sync(capsys, setup)
    assert (code, out.splitlines()[1]) == (0, "  node-a  converged  unload support-bot@1.1.0")
    assert setup.node.loaded() == served(setup, "support-bot@1.2.0", "sql-helper@1.1.0")
    code, out = status(setup, capsys)
    assert (code, out.endswith("✓ every node as desired\n")) == (0, True)
    setup.git("revert", "--no-edit", finish)
    assert sync(capsys, setup)[1].splitlines()[1] == "  node-a  converged  load support-bot@1.1.0"
    assert setup.node.loaded() == both
    assert status(setup, capsys)[0] == 0


def test_agent_pulls_an_empty_node_to_the_staging_routes(setup: Setup) -> None:
    assert agent_once(setup) == (
        f"adapterctl agent: node-a at {head(setup)}: converged "
        "(load support-bot@1.1.0, load sql-helper@1.1.0)"
    )
    assert setup.node.loaded() == served(setup, "support-bot@1.1.0", "sql-helper@1.1.0")


def test_a_tampered_cached_copy_is_refused_before_vllm_sees_it(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sync(capsys, setup)[0] == 0
    setup.node.reset()  # as after a restart: the next sync loads from the cache again
    weights = Path(setup.path("support-bot@1.1.0")) / "adapter_model.safetensors"
    declared = sha256_hex(weights)
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    tampered = sha256_hex(weights)
    setup.faults.requests.clear()
    code, out = sync(capsys, setup)
    assert code == 1
    quarantined = next((setup.cache / "quarantine").iterdir())
    assert out.splitlines()[1] == (
        "  node-a  FAILED     tampered-artifact: support-bot@1.1.0: adapter_model.safetensors "
        f"in the node's cache does not match the manifest (sha256 {tampered}…, "
        f"manifest {declared}…); not loaded; the copy was moved to "
        f"{quarantined} and the next sync fetches a verified one"
    )
    assert "POST /v1/load_lora_adapter" not in setup.faults.requests
    assert setup.node.loaded() == {}
    assert (quarantined / "adapter_model.safetensors").read_bytes()[-1:] == b"!"
    code, out = sync(capsys, setup)
    assert (code, out.splitlines()[1]) == (
        0, "  node-a  converged  load support-bot@1.1.0, load sql-helper@1.1.0")  # fmt: skip
    assert setup.node.loaded() == served(setup, "support-bot@1.1.0", "sql-helper@1.1.0")


def sha256_hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_a_node_serving_another_base_fails_fast_and_loads_nothing(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    text = setup.config.read_text().replace("served_name: tiny-llama", "served_name: big-llama")
    setup.config.write_text(text)
    code, out = sync(capsys, setup)
    assert (code, out.splitlines()[1]) == (
        1,
        f"  node-a  FAILED     base-mismatch: the node serves base 'tiny-llama' from "
        f"{base_path()}, but staging needs tiny-llama r1 as 'big-llama' from {base_path()}; "
        "nothing loaded or unloaded",
    )
    assert setup.faults.requests == ["GET /v1/models"]
    assert setup.node.loaded() == {}


def test_a_rank_vllm_refuses_is_reported_by_name(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """The environment allows rank 128 but the node still runs --max-lora-rank 64: vLLM
    refuses the load; the sync names the revision and vLLM's words, the rest still serves."""
    assert sync(capsys, setup)[0] == 0
    env_file = setup.root / "environments/staging/environment.yaml"
    env_file.write_text(env_file.read_text().replace("max_lora_rank: 64", "max_lora_rank: 128"))
    register_wide_revision(setup, capsys)
    setup.route(CANARY[0], CANARY[1].replace("1.2.0", "1.3.0"), "Canary support-bot 1.3.0")
    setup.faults.requests.clear()
    code, out = sync(capsys, setup)
    assert code == 1
    assert out.splitlines()[1] == (
        "  node-a  FAILED     load-failed: load support-bot@1.3.0: HTTP 500: Call to add_lora method failed: Worker failed with error 'LoRA rank 128 is "
        "greater than max_lora_rank 64.', please check the stack trace above for the root cause"
    )
    assert setup.node.loaded() == served(setup, "support-bot@1.1.0", "sql-helper@1.1.0")
    assert setup.faults.requests.count("POST /v1/load_lora_adapter") == 1, "not retried"


def register_wide_revision(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    """support-bot 1.3.0: a rank-128 adapter, registered, signed and committed."""
    adapter = setup.root.parent / "wide-adapter"
    make_adapter(adapter, PRETRAINED_BASES[R1], AdapterSpec(rank=128, alpha=128))
    training = setup.root.parent / "training.yaml"
    training.write_text(
        "recipe: {code: 'git+https://git.example.internal/ml/recipes@4be1c2d', seed: 7}\n"
        f"datasets:\n  - {{id: tickets, digest: 'sha256:{'0' * 64}'}}\n"
        "data_scope: EU support tickets, PII removed.\ntrained_by: svc-train-pipeline\n"
    )
    store = ("--root", setup.root, "--store", setup.store.as_uri())
    code, out, err = cli(capsys, "register", adapter, "--name", "support-bot", "--version",
                         "1.3.0", "--base", "tiny-llama@r1", "--description", "rank 128",
                         "--training", training, *store)  # fmt: skip
    assert code == 0, out + err
    key = REPO / "examples/keys/train-pipeline.pem"
    code, out, err = cli(capsys, "sign", "support-bot@1.3.0", "--key", key, *store)
    assert code == 0, out + err
    setup.git("add", "-A")
    setup.git("commit", "-q", "-m", "Register support-bot 1.3.0 (rank 128)")


def test_vllm_killed_mid_load_then_restarted_is_reloaded_by_the_agent(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """vLLM dies while a load is in flight: the sync fails naming the node and revision and
    leaves the cache whole; vLLM restarted has forgotten every runtime-loaded adapter, and
    the agent's next pass sees it in /v1/models and loads them all again."""
    assert sync(capsys, setup)[0] == 0
    setup.route(*CANARY, "Canary support-bot 1.2.0")
    setup.faults.kill_at_load = setup.node.kill
    code, out = sync(capsys, setup)
    assert code == 1
    line = out.splitlines()[1]
    assert line.startswith(
        "  node-a  FAILED     node-down: load support-bot@1.2.0: load failed after 3 attempts: "
        "cannot reach "
    )
    assert not setup.node.running()
    assert sorted(p.name for p in (setup.cache / "sha256").iterdir()) == sorted(
        Path(setup.path(label)).name
        for label in ("support-bot@1.1.0", "support-bot@1.2.0", "sql-helper@1.1.0")
    )
    assert [p.name for p in (setup.cache / ".staging").rglob("*")] == ["sha256"]  # none half-done
    setup.node.start()
    assert setup.node.loaded() == {}
    setup.faults.dead = False
    assert agent_once(setup) == (
        f"adapterctl agent: node-a at {head(setup)}: converged (load support-bot@1.1.0, "
        "load support-bot@1.2.0, load sql-helper@1.1.0)"
    )
    assert setup.node.loaded() == served(
        setup, "support-bot@1.1.0", "support-bot@1.2.0", "sql-helper@1.1.0"
    )
