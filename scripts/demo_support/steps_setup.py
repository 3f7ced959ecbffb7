"""Steps 1 and 2: the registry, its store and keys; the serving nodes and their first sync."""

from __future__ import annotations

import shlex
import shutil
import sys
from datetime import datetime
from pathlib import Path

from demo_support import engine, nodes, world
from demo_support.context import Demo
from demo_support.nodes import Node
from demo_support.shell import display

RELEASE_MANAGER = ("Rita Release", "rita@example.com")


def git_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def registry(demo: Demo, ten_days_ago: datetime) -> None:
    demo.transcript.heading(1, "A registry, an artifact store and a release manager's key")
    demo.say(
        "An adapter registry is a git repository of small YAML files: one manifest per",
        "adapter revision, one file per environment saying what it serves. The weights live",
        "beside it in a content-addressed store. The demo copied this repository's example",
        "registry into $DEMO/registry as it was before support-bot 1.1.0: staging and prod",
        "both serve support-bot 1.0.0, and the store lives outside the repository, in",
        "$DEMO/store.",
    )
    _release_key(demo)
    name, email = RELEASE_MANAGER
    for key, value in (("user.name", name), ("user.email", email)):
        demo.shell.git("config", "--global", key, value)
    if demo.signing:
        demo.shell.git("config", "--global", "gpg.format", "ssh")
        demo.shell.git("config", "--global", "user.signingkey", f"{demo.world.release_key}.pub")
    demo.shell.git("init", "-q", "-b", "main")
    demo.shell.git("add", "-A")
    date = git_date(ten_days_ago)
    dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    message = "Registry: support-bot 1.0.0 in staging and prod"
    demo.shell.git("commit", "-q", *demo.gpg(), "-m", message, env=dates)
    demo.shell.adapterctl("validate")
    demo.transcript.takeaway(
        f"What each environment serves is now a{demo.signed(' signed')} commit in git. "
        "validate, the schema gate, checks every file and cross reference before any "
        "other gate runs."
    )


def _release_key(demo: Demo) -> None:
    """An SSH key signs merges; the nodes hold its public half in their allowed signers."""
    if not demo.signing:
        demo.say(
            "ssh-keygen is not installed (apt-get install openssh-client), so this run cannot",
            "sign commits: the demo switched off prod's promotion.require_signed_commits in",
            "its copy and goes on unsigned. Everything else is the same.",
        )
        return
    demo.say(
        "The release manager signs merges with an SSH key. The serving nodes hold the",
        "public half in their own allowed-signers file: a repository never vouches for",
        "itself.",
    )
    key = demo.world.release_key
    _, email = RELEASE_MANAGER
    demo.shell.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(key)])
    public = key.with_suffix(".pub").read_text(encoding="utf-8").split()
    line = f'{email} namespaces="git" {public[0]} {public[1]}'
    demo.world.allowed_signers.write_text(line + "\n", encoding="utf-8")
    demo.shell.run(["cat", str(demo.world.allowed_signers)])


def serving_nodes(demo: Demo) -> None:
    demo.transcript.heading(2, "Serving nodes: staging, prod, and the CI runner's")
    started = _vllm_nodes(demo) if demo.engine.vllm else _reference_nodes(demo)
    seconds = nodes.wait_healthy(started, demo.engine.deadline_s)
    demo.transcript.output([f"/health: 200 from all three nodes after {seconds:.1f} s"])
    _engine_served(demo, seconds)
    _node_configs(demo)


def _reference_nodes(demo: Demo) -> list[Node]:
    if demo.engine.fallback:
        demo.say(
            f"The demo runs on real vLLM where it can, but {demo.engine.fallback}: these",
            "nodes are the reference node instead.",
        )
    demo.say(
        "adapterctl serve is the reference node: a small OpenAI-compatible server that",
        "behaves like vLLM where adapterctl touches it (models, completions, runtime LoRA",
        "load and unload) and runs real inference on the CPU. The demo starts three on",
        "loopback: one per environment, and one for CI's golden and pressure gates, which",
        "starts with the revisions staging serves today.",
    )
    world_ = demo.world
    specs = {
        "staging": ["--allowed-lora-dir", str(world_.nodes / "staging-cache")],
        "prod": ["--allowed-lora-dir", str(world_.nodes / "prod-cache")],
        "ci": _ci_modules(demo),
    }
    env = demo.engine.node_env(demo.shell.env)
    started: list[Node] = []
    for name, extra in specs.items():
        port = nodes.free_port()
        argv = [
            str(demo.shell.adapterctl_path), "serve", "--base", str(world_.base),
            "--served-model-name", "tiny-llama", "--port", str(port),
            "--max-loras", "4", "--max-lora-rank", "64", *extra,
        ]  # fmt: skip
        shown = "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True adapterctl " + " ".join(argv[1:])
        demo.transcript.command(f"{shown} &")
        log = world_.demo / "logs" / f"{name}-node.log"
        started.append(nodes.start(f"{name}-node", argv, env, log))
        demo.nodes[name] = started[-1]
    return started


def _vllm_nodes(demo: Demo) -> list[Node]:
    """Three real vLLM API servers; the CI node starts with staging's revisions."""
    demo.say(
        "Each node is a real vLLM API server (the CPU build here), started the way a",
        "production node runs it: runtime LoRA updates on, four adapter slots in the",
        "engine and eight in CPU memory. One per environment, and one for CI's golden and",
        "pressure gates, which starts with the revisions staging serves today:",
        "adapterctl render turns staging's routes into vLLM's --lora-modules.",
    )
    rendered = demo.shell.adapterctl("render", "--env", "staging", "--target", "vllm-args",
                                     "--adapter-dir", str(demo.world.store), limit=8)  # fmt: skip
    ci_flags = shlex.split(rendered.output, comments=True)
    plain = [*engine.VLLM_FLAGS, "--served-model-name", "tiny-llama"]
    env = demo.engine.node_env(demo.shell.env)
    settings = " ".join(f"{name}={env[name]}" for name in engine.SHOWN_SETTINGS)
    started: list[Node] = []
    for name, flags in (("staging", plain), ("prod", plain), ("ci", ci_flags)):
        argv = demo.engine.vllm_argv(demo.world.base, nodes.free_port(), *flags)
        shown = display(argv, demo.transcript)
        demo.transcript.command(f"{settings} {shown} &")
        log = demo.world.demo / "logs" / f"{name}-node.log"
        started.append(nodes.start(f"{name}-node", argv, env, log))
        demo.nodes[name] = started[-1]
    demo.say(
        "vLLM starts three processes per node, one after the other: the API server, its",
        "engine core and the engine core's worker, each importing torch and vLLM afresh",
        "(about 15 CPU-seconds each). Three nodes on two cores need a minute or two.",
    )
    return started


def _engine_served(demo: Demo, seconds: float) -> None:
    """Say which engine served, as the nodes report it (``GET /version``)."""
    url = demo.nodes["staging"].url
    if not demo.engine.vllm:
        if demo.engine.fallback:
            demo.transcript.takeaway(
                f"Serving nodes: the reference node (adapterctl serve), started in "
                f"{seconds:.0f} s; real vLLM was not used: {demo.engine.fallback}."
            )
        return
    found = engine.version_of(demo.request(f"{url}/version"))
    package = demo.engine.distribution()
    what = f"real vLLM {found or '(version unknown)'}" + (f" ({package})" if package else "")
    demo.transcript.takeaway(f"Serving nodes: {what}, started in {seconds:.0f} s.")


def _ci_modules(demo: Demo) -> list[str]:
    modules = []
    for label in ("support-bot@1.0.0", "sql-helper@1.1.0"):
        name, version = label.split("@")
        path = demo.world.stored(world.digest_of(demo.world, name, version))
        modules += ["--lora-modules", f"{label}={path}"]
    return [*modules, "--allowed-lora-dir", str(demo.world.store)]


def _node_configs(demo: Demo) -> None:
    demo.say(
        "Each serving node has its own configuration file: the environment it serves, its",
        "local base model, its adapter cache, and the trust anchors a sync checks the",
        "registry against (the allowed signers of merges, the keys of artifact signatures);",
        "prod's names the gateway in front of it (step 3), which its unloads wait for.",
    )
    demo.gateway_port = nodes.free_port()
    gateways = {"staging": (), "prod": (demo.gateway_url,)}
    for env in ("staging", "prod"):
        config = world.node_config(demo.world, f"{env}-node", env, demo.nodes[env].port,
                                   gateways[env])  # fmt: skip
        demo.configs[env] = config
    demo.shell.run(["cat", str(demo.configs["prod"])])
    demo.say(
        "A sync reads the environment at a commit (never the working tree), checks the",
        "commit's signature where the environment requires it, fetches and verifies each",
        "revision into the node's cache, then loads before it unloads.",
    )
    demo.sync("staging")
    demo.sync("prod")
    demo.transcript.takeaway(
        "Both environments now serve what main says. Every adapter is loaded under an "
        "immutable name NAME@VERSION; the alias NAME is a route."
    )


def check_signing_tools(demo_dir: Path) -> bool:
    """Whether commits can be signed (ssh-keygen); if not, prod stops requiring it."""
    if shutil.which("ssh-keygen"):
        return True
    prod = demo_dir / "registry/environments/prod/environment.yaml"
    text = prod.read_text(encoding="utf-8")
    prod.write_text(text.replace("require_signed_commits: true", "require_signed_commits: false"))
    (demo_dir / "nodes/allowed_signers").write_text("", encoding="utf-8")
    sys.stderr.write("demo: ssh-keygen not found; continuing with unsigned commits\n")
    return False
