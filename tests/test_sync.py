"""``adapterctl sync`` and ``status`` against a real reference node on loopback.

The node runs with runtime LoRA updates; a fault proxy in front of it injects the faults
the issue names. The registry is a real git repository whose store lives outside it;
staging's artifacts are verified against the example trust file (node-held anchors).
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapterctl.serving import cache as cache_module
from adapterctl.serving.agent import Agent, AgentOptions, PrometheusSink
from adapterctl.serving.lock import node_lock
from adapterctl.serving.metrics import SyncMetrics
from adapterctl.serving.nodeconfig import load_node
from tests.conftest import isolate_git
from tests.synccheckout import Checkout, agent, agent_once, cli, head, sync
from tests.syncnode import RuntimeNode, base_path, fault_proxy, runtime_node

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def node() -> Iterator[RuntimeNode]:
    with runtime_node() as running:
        yield running


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))


Setup = Checkout[RuntimeNode]


@pytest.fixture
def setup(tmp_path: Path, node: RuntimeNode) -> Iterator[Setup]:
    with fault_proxy(node.url) as (proxy, faults):
        yield Setup(tmp_path, node, proxy, faults)


def test_sync_converges_then_only_looks(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = sync(capsys, setup)
    assert (code, out) == (
        0,
        f"sync staging at {head(setup)} (1 node)\n"
        "  node-a  converged  load support-bot@1.1.0, load sql-helper@1.1.0\n"
        "✓ 1 node converged\n",
    )
    assert setup.node.engine.loras() == {
        "support-bot@1.1.0": setup.path("support-bot@1.1.0"),
        "sql-helper@1.1.0": setup.path("sql-helper@1.1.0"),
    }
    setup.faults.requests.clear()
    code, out = sync(capsys, setup)
    assert (code, out) == (
        0,
        f"sync staging at {head(setup)} (1 node)\n"
        "  node-a  converged  no changes\n"
        "✓ 1 node converged\n",
    )
    assert setup.faults.requests == ["GET /v1/models"]


def test_a_sync_that_changes_nothing_rewrites_only_the_record_s_time_in_place(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same file (inode) with a new time and nothing else new; a sync that changes
    something writes a new record whole (a new file renamed over the old one)."""
    sync(capsys, setup)
    record = setup.cache / "last-sync.json"
    first = json.loads(record.read_text())
    record.write_text(record.read_text().replace(first["finished"], "2000-01-01T00:00:00Z"))
    inode = record.stat().st_ino
    sync(capsys, setup)
    second = json.loads(record.read_text())
    assert record.stat().st_ino == inode
    assert second["finished"] != "2000-01-01T00:00:00Z"
    assert {**second, "finished": None} == {**first, "finished": None}
    setup.route(
        "    - {version: 1.1.0, weight: 100}\n  sql",
        "    - {version: 1.1.0, weight: 90}\n    - {version: 1.2.0, weight: 10}\n  sql",
        "Canary support-bot 1.2.0",
    )
    sync(capsys, setup)
    third = json.loads(record.read_text())
    assert record.stat().st_ino != inode
    assert (third["commit"], third["ok"]) == (setup.git("rev-parse", "HEAD"), True)
    assert "support-bot@1.2.0" in third["loaded"]


def test_canary_finish_rollback_cycle(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    """Promotion → sync → both served during canary → finish → old unloaded but cached →
    rollback (git revert) → sync restores it from the cache."""
    sync(capsys, setup)
    setup.route(
        "    - {version: 1.1.0, weight: 100}\n  sql",
        "    - {version: 1.1.0, weight: 90}\n    - {version: 1.2.0, weight: 10}\n  sql",
        "Canary support-bot 1.2.0",
    )
    assert sync(capsys, setup)[1].splitlines()[1] == "  node-a  converged  load support-bot@1.2.0"
    assert set(setup.node.engine.loras()) >= {"support-bot@1.1.0", "support-bot@1.2.0"}
    finish = setup.route(
        "    - {version: 1.1.0, weight: 90}\n    - {version: 1.2.0, weight: 10}\n",
        "    - {version: 1.2.0, weight: 100}\n    - {version: 1.1.0, weight: 0}\n",
        "Finish support-bot 1.2.0",
    )
    assert sync(capsys, setup)[1].splitlines()[1] == (
        "  node-a  converged  unload support-bot@1.1.0"
    )
    assert "support-bot@1.1.0" not in setup.node.engine.loras()
    assert Path(setup.path("support-bot@1.1.0")).is_dir(), "retained: still in the cache"
    setup.git("revert", "--no-edit", finish)
    setup.faults.requests.clear()
    assert sync(capsys, setup)[1].splitlines()[1] == ("  node-a  converged  load support-bot@1.1.0")
    assert set(setup.node.engine.loras()) >= {"support-bot@1.1.0", "support-bot@1.2.0"}


def test_a_tenant_canary_at_weight_0_is_loaded_not_only_cached(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    sync(capsys, setup)
    setup.route(
        "    - {version: 1.1.0, weight: 100}\n  sql",
        "    - {version: 1.1.0, weight: 100}\n    - {version: 1.2.0, weight: 0, tenants: [acme]}\n"
        "  sql",
        "Tenant canary support-bot 1.2.0 for acme",
    )
    assert sync(capsys, setup)[1].splitlines()[1] == "  node-a  converged  load support-bot@1.2.0"
    code, out, _ = cli(capsys, "status", "--env", "staging", "--node-config", setup.config,
                       "--root", setup.root)  # fmt: skip
    assert code == 0
    assert "│ support-bot@1.2.0 │ 0 % + tenants acme │ yes" in out


def test_status_shows_drift_then_converged(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("status", "--env", "staging", "--node-config", setup.config, "--root", setup.root)
    code, out, _ = cli(capsys, *args, "--format", "json")
    document = json.loads(out)
    assert (code, document["drift"]) == (1, True)
    assert document["nodes"][0]["revisions"][0] == {
        "served_name": "support-bot@1.1.0", "weight": 100, "loaded": False,
        "root_matches": False, "cached": False, "tenants": [],
    }  # fmt: skip
    sync(capsys, setup)
    code, out, _ = cli(capsys, *args)
    assert code == 0
    assert out.endswith("✓ every node as desired\n")
    assert f"{head(setup)} ok" in out


def test_dry_run_changes_nothing(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = sync(capsys, setup, "--dry-run")
    assert (code, out) == (
        0,
        f"plan for staging at {head(setup)} (1 node)\n"
        "  node-a  planned    load support-bot@1.1.0, load sql-helper@1.1.0\n",
    )
    assert setup.node.engine.loras() == {}
    assert not setup.cache.joinpath("sha256").exists()


# --- faults ---------------------------------------------------------------------------


def test_node_down_at_the_start(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with fault_proxy(setup.node.url) as (proxy, faults):
        faults.dead = True
        setup.write_config(proxy)
        code, out = sync(capsys, setup)
    assert code == 1
    assert out.splitlines()[1].startswith(
        "  node-a  FAILED     node-down: models failed after 3 attempts: cannot reach "
    )
    assert out.endswith("✗ 1 of 1 node failed\n")
    assert setup.node.engine.loras() == {}


def test_node_killed_mid_sync_converges_on_rerun(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.faults.die_after_loads = 1
    code, out = sync(capsys, setup)
    assert code == 1
    assert "node-down: " in out
    assert "(done: load support-bot@1.1.0)" in out
    setup.faults.dead = False
    setup.faults.die_after_loads = None
    code, out = sync(capsys, setup)
    assert (code, out.splitlines()[1]) == (0, "  node-a  converged  load sql-helper@1.1.0")


def test_load_500_twice_then_success(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.faults.fail_loads = 2
    code, _out = sync(capsys, setup)
    assert code == 0
    loads = [r for r in setup.faults.requests if r == "POST /v1/load_lora_adapter"]
    assert len(loads) == 4  # 500, 500, then both loads succeed


def test_load_times_out(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.write_config(
        setup.config.read_text().split("endpoint: ")[1].split("/v1")[0]
    )  # same endpoint, fresh file
    # /v1/models must still answer within the timeout, on a busy machine too; the held
    # loads are never answered (the proxy holds them for 30 s or until the test ends)
    text = setup.config.read_text().replace("timeout_s: 60", "timeout_s: 2")
    setup.config.write_text(text.replace("retries: 3", "retries: 2"))
    setup.faults.hold_loads = True
    code, out = sync(capsys, setup)
    assert code == 1
    assert out.splitlines()[1] == (
        "  node-a  FAILED     load-failed: load support-bot@1.1.0: load failed after 2 "
        "attempts: no answer within 2 s"
    )


def test_models_that_lie_about_the_root(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    sync(capsys, setup)
    setup.faults.lie_roots = {"support-bot@1.1.0": "/somewhere/else"}
    code, out = sync(capsys, setup)
    assert code == 1
    assert out.splitlines()[1] == (
        "  node-a  FAILED     not-converged: /v1/models does not confirm the sync: still to "
        "do: load support-bot@1.1.0 (done: unload support-bot@1.1.0 (root was /somewhere/else), "
        "load support-bot@1.1.0)"
    )
    setup.faults.lie_roots = {}
    assert sync(capsys, setup)[0] == 0


def test_what_a_killed_sync_left_half_fetched_is_cleared_and_fetched_again(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = setup.cache / ".staging"
    half = staging / "sha256" / Path(setup.path("support-bot@1.1.0")).name
    half.mkdir(parents=True)
    (half / "adapter_config.json").write_text("{}")  # a partial copy: one file, not its bytes
    (staging / "bundle.sigstore.json").write_text("{}")
    assert sync(capsys, setup)[0] == 0
    assert setup.node.engine.loras()["support-bot@1.1.0"] == setup.path("support-bot@1.1.0")
    assert [p.name for p in staging.rglob("*")] == ["sha256"]


def test_disk_full_in_the_cache(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(revision: object, store: object, folder: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module, "_fetch", full)
    code, out = sync(capsys, setup)
    assert (code, out.splitlines()[1]) == (
        1,
        "  node-a  FAILED     disk-full: support-bot@1.1.0: the adapter cache is full "
        "(No space left on device); not loaded",
    )
    assert setup.node.engine.loras() == {}
    assert [p.name for p in (setup.cache / ".staging").rglob("*")] == ["sha256"]  # none half-done


def test_tampered_artifact_is_refused_and_the_previous_keeps_serving(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    sync(capsys, setup)
    digest = Path(setup.path("support-bot@1.2.0")).name
    weights = setup.store / "sha256" / digest / "adapter_model.safetensors"
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    setup.route("{version: 1.1.0, weight: 100}\n  sql", "{version: 1.2.0, weight: 100}\n  sql",
                "Move support-bot to 1.2.0")  # fmt: skip
    code, out = sync(capsys, setup)
    assert code == 1
    assert out.splitlines()[1].startswith(
        "  node-a  FAILED     tampered-artifact: support-bot@1.2.0: adapter_model.safetensors "
        "in the store does not match the manifest"
    )
    assert "support-bot@1.1.0" in setup.node.engine.loras()
    assert not Path(setup.path("support-bot@1.2.0")).exists()


def test_two_syncs_at_once_on_one_node(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    with node_lock(setup.cache, "node-a"):
        code, out = sync(capsys, setup)
    assert code == 1
    line = out.splitlines()[1]
    assert line.startswith(
        "  node-a  FAILED     locked: another sync of node 'node-a' is running (pid "
    )
    assert line.endswith("); not started")
    assert setup.faults.requests == []


def test_wait_waits_for_the_sync_already_running(setup: Setup) -> None:
    """With --wait a second sync blocks on the node's lock (the kernel shows it waiting)
    without asking the node anything, and goes on once the first lets go."""
    command = [sys.executable, "-m", "adapterctl", "sync", "--env", "staging", "--wait",
               "--node-config", str(setup.config), "--root", str(setup.root)]  # fmt: skip
    with node_lock(setup.cache, "node-a"):
        waiting = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        _wait_until_blocked_on(setup.cache / "sync.lock", waiting)
        assert setup.faults.requests == []
    out, _ = waiting.communicate(timeout=120)
    assert (waiting.returncode, out.splitlines()[1]) == (
        0,
        "  node-a  converged  load support-bot@1.1.0, load sql-helper@1.1.0",
    )


def _wait_until_blocked_on(path: Path, process: subprocess.Popen[str]) -> None:
    """Until /proc/locks lists a request waiting (``->``) for the lock on ``path``."""
    inode = f":{path.stat().st_ino} "
    deadline = time.monotonic() + 60  # a safety net: only a broken sync waits this long
    while time.monotonic() < deadline and process.poll() is None:
        lines = Path("/proc/locks").read_text().splitlines()
        if any("->" in line and inode in line for line in lines):
            return
        time.sleep(0.01)
    pytest.fail(f"no sync waited for {path} (exit {process.poll()})")


def test_another_base_fails_fast(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    text = setup.config.read_text().replace("served_name: tiny-llama", "served_name: big-llama")
    setup.config.write_text(text)
    code, out = sync(capsys, setup)
    assert code == 1
    assert out.splitlines()[1] == (
        f"  node-a  FAILED     base-mismatch: the node serves base 'tiny-llama' from "
        f"{base_path()}, but staging needs tiny-llama r1 as 'big-llama' from {base_path()}; "
        "nothing loaded or unloaded"
    )
    assert setup.faults.requests == ["GET /v1/models"]


def test_unsigned_commit_where_required(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    signers = setup.root.parent / "allowed_signers"
    signers.write_text("")
    text = setup.config.read_text().replace("environment: staging", "environment: prod")
    setup.config.write_text(text.replace("trust: {", f"trust: {{allowed_signers: {signers}, "))
    code, out, _ = cli(capsys, "sync", "--env", "prod", "--node-config", setup.config,
                       "--root", setup.root)  # fmt: skip
    assert code == 1
    line = out.splitlines()[1]
    assert line.startswith(
        f"  node-a  FAILED     unsigned-commit: commit {head(setup)} is not signed as prod "
        'requires: "Initial registry" '
    )
    assert line.endswith("; nothing loaded or unloaded")
    assert setup.faults.requests == []


# --- node configuration ---------------------------------------------------------------


def test_invalid_node_config_names_file_line_and_field(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    text = setup.config.read_text().replace("retries: 3", "retries: 0")
    setup.config.write_text(text)
    code, out, err = cli(capsys, "sync", "--env", "staging", "--node-config", setup.config,
                         "--root", setup.root)  # fmt: skip
    assert (code, out) == (1, "")
    assert err.startswith(f"adapterctl: error: {setup.config}:8 $.sync.retries: ")


def test_node_config_of_another_environment(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "sync", "--env", "prod", "--node-config", setup.config,
                       "--root", setup.root)  # fmt: skip
    assert (code, err) == (
        2,
        f"adapterctl: error: {setup.config}: node 'node-a' serves staging, not prod\n",
    )


# --- pull mode ------------------------------------------------------------------------


def test_agent_once_converges(setup: Setup) -> None:
    assert agent_once(setup) == (
        f"adapterctl agent: node-a at {head(setup)}: converged "
        "(load support-bot@1.1.0, load sql-helper@1.1.0)"
    )
    assert set(setup.node.engine.loras()) == {"support-bot@1.1.0", "sql-helper@1.1.0"}


def test_agent_sigterm_finishes_the_step_in_flight(setup: Setup) -> None:
    setup.faults.hold_loads = True
    process = agent(setup, "--interval", "3600")
    assert setup.faults.load_seen.wait(120), "the agent never started loading"
    process.send_signal(signal.SIGTERM)
    # The held load is answered only after the signal, so the step is in flight when it lands.
    assert _stderr_line(process) == "adapterctl agent: SIGTERM: stopping after the current step"
    setup.faults.hold_loads = False
    setup.faults.release.set()
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert err == (
        f"adapterctl agent: node-a at {head(setup)}: stopped: stopped after 1 of 2 steps "
        "(every step done is whole; the next sync goes on)\n"
    )
    assert set(setup.node.engine.loras()) == {"support-bot@1.1.0"}
    assert [p.name for p in (setup.cache / ".staging").rglob("*")] == ["sha256"]  # none half-done


def _stderr_line(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    return process.stderr.readline().rstrip("\n")


def test_agent_cycle_updates_its_metrics(setup: Setup) -> None:
    agent_ = Agent(load_node(setup.config), AgentOptions(str(setup.root), once=True))
    metrics = SyncMetrics()
    agent_.metrics = PrometheusSink(metrics)
    result = agent_.cycle()
    assert result is not None
    assert result.ok
    text = metrics.exposition().decode()
    commit = setup.git("rev-parse", "HEAD")
    assert (
        f'adapterctl_sync_last_success_commit{{commit="{commit}",env="staging",node="node-a"}} 1.0'
        in text
    )
    assert (
        'adapterctl_loaded_revisions{alias="support-bot",node="node-a",version="1.1.0"} 1.0' in text
    )
    assert 'adapterctl_adapter_load_seconds_count{node="node-a"} 2.0' in text


def test_one_failing_node_does_not_stop_the_others(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    other = setup.config.with_name("node-b.yaml")
    with fault_proxy(setup.node.url) as (proxy, faults):
        faults.dead = True
        text = setup.config.read_text().replace("name: node-a", "name: node-b")
        text = text.replace(f"cache_dir: {setup.cache}", f"cache_dir: {setup.cache}-b")
        other.write_text(text.replace(setup.config.read_text().split("endpoint: ")[1]
                                      .split("\n")[0], f"{proxy}/v1"))  # fmt: skip
        code, out, _ = cli(capsys, "sync", "--env", "staging", "--node-config", setup.config,
                           "--node-config", other, "--root", setup.root)  # fmt: skip
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == f"sync staging at {head(setup)} (2 nodes)"
    assert lines[1] == "  node-a  converged  load support-bot@1.1.0, load sql-helper@1.1.0"
    assert lines[2].startswith("  node-b  FAILED     node-down: ")
    assert lines[3] == "✗ 1 of 2 nodes failed"


def test_a_tampered_cached_copy_is_quarantined_not_loaded(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cache is hashed again before every load (the same test on vLLM is in
    test_vllm_sync.py); the bad copy is kept aside and the next sync fetches a good one."""
    sync(capsys, setup)
    setup.node.reset()
    config = Path(setup.path("sql-helper@1.1.0")) / "adapter_config.json"
    config.chmod(0o644)
    config.write_text(config.read_text().replace('"r": 8', '"r": 4'))
    code, out = sync(capsys, setup)
    assert code == 1
    assert (
        "  node-a  FAILED     tampered-artifact: sql-helper@1.1.0: adapter_config.json in the "
        "node's cache does not match the manifest" in out
    )
    assert set(setup.node.engine.loras()) == {"support-bot@1.1.0"}
    (quarantined,) = (setup.cache / "quarantine").iterdir()
    assert '"r": 4' in (quarantined / "adapter_config.json").read_text()
    assert sync(capsys, setup)[0] == 0
    assert set(setup.node.engine.loras()) == {"support-bot@1.1.0", "sql-helper@1.1.0"}
