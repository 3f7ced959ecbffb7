"""Steps 10 to 13: two revisions refused, a rollback by git revert, history and status."""

from __future__ import annotations

import shutil
import sys

from demo_support import world
from demo_support.context import Demo
from demo_support.shell import DemoFailure
from demo_support.steps_train import PULL_REQUESTS, register
from demo_support.world import REPO

REGRESSED = "support-bot@1.2.0"


def regressed(demo: Demo) -> None:
    demo.transcript.heading(10, "A regressed revision, refused by the golden gate")
    demo.say(
        "support-bot 1.2.0 (rank 16, more modules) is handed over the same way: the demo",
        "replays the example kit's 1.2.0, which was trained to get two answers wrong.",
    )
    register(demo, "1.2.0")
    number = demo.open_pull_request()
    demo.say(
        f"Its pull request (#{number}) passes integrity and compat: the files are what the",
        "manifest says and every shape fits the base. Only its behaviour is wrong.",
    )
    demo.shell.adapterctl("check", REGRESSED, "--env", "prod")
    path = demo.world.stored(world.digest_of(demo.world, "support-bot", "1.2.0"))
    demo.load_on_ci_node(REGRESSED, path)
    endpoint = f"{demo.nodes['ci'].url}/v1"
    demo.say("The golden gate compares it with 1.1.0, which staging serves now:")
    demo.shell.adapterctl("eval", REGRESSED, "--env", "staging", "--endpoint", endpoint,
                          *demo.eval_concurrency(), expect=1, limit=40)  # fmt: skip
    demo.transcript.expected("exit code 1, as expected: the pull request cannot merge")
    demo.shell.git("switch", "-q", "main")
    demo.transcript.takeaway(
        f"reports/golden/{REGRESSED}.html shows each failing case's answers from 1.2.0 "
        "and 1.1.0 side by side. Pull request #{number} stays open and red; nothing "
        "reached a node.".replace("{number}", str(number))
    )


def incompatible(demo: Demo) -> None:
    demo.transcript.heading(11, "An adapter for another base, refused by compat")
    demo.say(
        "vLLM does not check which base an adapter was trained for: one with the same",
        "module names loads silently and serves garbage. The example kit writes such an",
        "adapter, trained on tiny-llama-wide (hidden size 192 instead of 128):",
    )
    kit = demo.world.demo / "kit"
    demo.shell.run([sys.executable, "-m", "examples.kit", str(kit)],
                   shown=f"(cd $REPO && python -m examples.kit {kit})", cwd=REPO)  # fmt: skip
    demo.say(
        "Someone tries to register it for tiny-llama r1 (with 1.1.0's training record; the",
        "record is not what is wrong here):",
    )
    training = demo.world.handover("1.1.0").training
    demo.shell.adapterctl(
        "register", str(kit / "adapters/support-bot-wrong-base"), "--name", "support-bot",
        "--version", "1.3.0", "--base", "tiny-llama@r1", "--training", str(training),
        "--description", "Adds warranty questions.", expect=1, limit=22,
    )  # fmt: skip
    demo.transcript.expected("exit code 1, as expected: compat found the shapes wrong")
    status = demo.shell.git("status", "--short")
    if status.output.strip():
        raise DemoFailure("a refused registration left files behind", status.output)
    demo.transcript.takeaway(
        "Nothing was written: no manifest, nothing in the store. The shape table of the "
        "base manifest made this a metadata check, without loading any weights."
    )


def rollback(demo: Demo) -> None:
    demo.transcript.heading(12, "Rollback is git revert")
    demo.say(
        "Suppose prod's dashboards turn red after the switch. rollback finds the commit",
        "that last changed support-bot's routes in prod (the merge of the finish) and",
        "reverts it on a branch: the canary comes back, 1.0.0 at 90 %, 1.1.0 at 10 % and",
        "for the support team.",
    )
    number = demo.open_pull_request()
    body = f"{PULL_REQUESTS}/{number}-rollback-prod.md"
    demo.shell.adapterctl("rollback", "--env", "prod", "support-bot", *demo.sign(),
                          "--body-file", body)  # fmt: skip
    branch = demo.shell.quiet(
        ["git", "branch", "--list", "rollback/prod/support-bot-*", "--format=%(refname:short)"]
    )
    names = branch.output.split()
    if len(names) != 1:
        raise DemoFailure("expected exactly one rollback branch", branch.output)
    demo.shell.run(["cat", body], limit=24)
    demo.merge(names[0], number)
    demo.sync("prod")
    demo.transcript.takeaway(
        "1.0.0 came back from the node's cache: retention kept it verified and loadable, "
        "so the rollback needed neither the store nor a download."
    )


def history(demo: Demo) -> None:
    demo.transcript.heading(13, "Who did what, and what runs where")
    demo.say(
        "history reads prod's route changes from git: who, when, through which pull request,",
        "and the signature status.",
    )
    signers = ["--allowed-signers", str(demo.world.allowed_signers)] if demo.signing else []
    demo.shell.adapterctl("history", "--env", "prod", *signers, limit=40)
    demo.say("status compares each node's /v1/models with the desired state (exit 1 on drift).")
    demo.status("prod")
    demo.status("staging")
    demo.transcript.takeaway(
        "Every change to what a node serves is a commit with a pull request"
        f"{demo.signed(', a signature')} and evidence; every node can say whether it matches."
    )


def keep_reports(demo: Demo, target: str) -> list[str]:
    """Copy the registry's reports/ to ``target`` (replacing it); the files, relative."""
    source = demo.world.reports
    destination = shutil.copytree(source, target, dirs_exist_ok=True)
    del destination
    return sorted(str(path.relative_to(source)) for path in source.rglob("*") if path.is_file())
