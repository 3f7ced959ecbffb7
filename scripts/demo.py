"""``make demo``: the release train of a LoRA adapter, end to end, narrated.

Copies the example registry into a temporary git repository, starts reference nodes on
loopback and walks a revision from hand-over to prod and back, with every command run for
real. Exits 0 when every step did what it should (the refusals included), 1 otherwise;
the nodes are stopped and the temporary folder removed whatever happens, except the
reports, which are copied to ``--reports`` (see docs/demo.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

from demo_support import (
    engine,
    nodes,
    steps_canary,
    steps_merged,
    steps_refuse,
    steps_setup,
    steps_train,
)
from demo_support.context import Demo
from demo_support.shell import DemoFailure, Shell
from demo_support.transcript import Transcript
from demo_support.world import REPO, World, prepare

DEFAULT_REPORTS = Path(tempfile.gettempdir()) / "adapterctl-demo-reports"
_DROPPED_ENV = ("ADAPTERCTL_", "GIT_", "VLLM_", "GITHUB_")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS,
                        help=f"where to keep the reports (default: {DEFAULT_REPORTS})")  # fmt: skip
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (to look around afterwards)")  # fmt: skip
    return parser.parse_args(argv)


def adapterctl_path() -> Path:
    beside = Path(sys.executable).with_name("adapterctl")
    return beside if beside.exists() else REPO / ".venv" / "bin" / "adapterctl"


def environment(world: World) -> dict[str, str]:
    """The commands' environment: this one without settings that would leak in, plus the demo's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV)}
    env.update(
        ADAPTERCTL_STORE=world.store.as_uri(),
        ADAPTERCTL_CACHE_DIR=str(world.demo / "cache" / "adapterctl"),
        XDG_CACHE_HOME=str(world.demo / "cache"),
        GIT_CONFIG_GLOBAL=str(world.gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        COLUMNS="88",
        # The demo's nodes are CPU nodes of a CI runner: budgets promised for GPU nodes
        # (hardware/gpu-l40s.yaml) are reported on them, not enforced (docs/hardware.md).
        ADAPTERCTL_HARDWARE_CLASS="cpu-ci",
        PATH=f"{adapterctl_path().parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def preamble(transcript: Transcript, world: World, served_by: engine.Engine) -> None:
    transcript.title("adapterctl demo: the release train of a LoRA adapter, end to end")
    transcript.say(
        "Every command below runs for real, in a temporary git repository, against "
        f"{'real vLLM' if served_by.vllm else 'reference'} nodes on loopback, with this "
        "repository's .venv/bin first on PATH. Its "
        "output is indented (long outputs are trimmed). "
        "Paths under the temporary folder are shown as $DEMO and this repository as $REPO; "
        "64-digit digests are shortened to 12 digits."
    )
    transcript.blank()
    transcript.command(f"export DEMO={world.demo} REPO={REPO}", raw=True)
    transcript.command(
        "export ADAPTERCTL_STORE=file://$DEMO/store GIT_CONFIG_GLOBAL=$DEMO/gitconfig "
        "ADAPTERCTL_CACHE_DIR=$DEMO/cache/adapterctl"
    )
    transcript.command("cd $DEMO/registry")


def walk(demo: Demo, now: datetime) -> None:
    steps_setup.registry(demo, now - timedelta(days=10))
    steps_setup.serving_nodes(demo)
    steps_canary.gateway(demo)
    steps_train.hand_over(demo, now - timedelta(days=2))
    steps_train.gates(demo)
    steps_train.promote_staging(demo)
    steps_train.sync_staging(demo)
    steps_canary.canary(demo)
    steps_canary.regression(demo)
    steps_refuse.regressed(demo)
    steps_refuse.incompatible(demo)
    steps_refuse.rollback(demo)
    steps_refuse.history(demo)
    steps_merged.merge(demo)
    steps_merged.canary(demo)


def finish(demo: Demo, reports: Path, started: float) -> None:
    transcript = demo.transcript
    transcript.heading(16, "Reports")
    files = steps_refuse.keep_reports(demo, str(reports))
    transcript.say("The reports this run wrote are kept in this folder (the rest is removed):")
    transcript.output([f"{reports}/", *(f"  {name}" for name in files)])
    transcript.say("The refused revision's answers, side by side with the baseline's:")
    transcript.output([str(reports / "golden" / f"{steps_refuse.REGRESSED}.html")])
    transcript.blank()
    transcript.expected(f"demo finished in {time.monotonic() - started:.0f} s")


def fail(transcript: Transcript, problem: DemoFailure) -> None:
    transcript.blank()
    transcript.error(f"✗ the demo failed in step {transcript.step}: {problem.message}")
    for line in problem.output.rstrip("\n").splitlines()[-60:]:
        transcript.error(f"    {line}")
    for line in problem.report:
        transcript.error(line)
    for node in nodes.running():
        tail = node.log_tail()
        if tail and node.process.poll() is not None:
            transcript.error(f"  {node.name} log:\n{tail}")


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    try:
        served_by = engine.choose(os.environ)
    except engine.EngineError as exc:
        sys.stderr.write(f"demo: {exc}\n")
        return 2
    started = time.monotonic()
    nodes.install_cleanup()
    transcript = Transcript()
    demo_dir = Path(tempfile.mkdtemp(prefix="adapterctl-demo-")).resolve()
    world = World(demo_dir)
    transcript.name(str(demo_dir), "$DEMO")
    transcript.name(str(REPO), "$REPO")
    try:
        observed = shutil.which("prometheus")
        prepare(world, analysis=observed is not None)
        signing = steps_setup.check_signing_tools(demo_dir)
        shell = Shell(transcript, environment(world), world.registry, adapterctl_path())
        demo = Demo(transcript, shell, world, signing, served_by, observed)
        preamble(transcript, world, served_by)
        walk(demo, datetime.now(UTC).replace(microsecond=0))
        finish(demo, options.reports.resolve(), started)
        return 0
    except DemoFailure as problem:
        fail(transcript, problem)
        return 1
    except Exception as exc:  # any other failure: say where, then clean up
        traceback.print_exc()
        fail(transcript, DemoFailure(f"internal error: {exc!r}"))
        return 1
    except nodes.Interrupted as stop:
        transcript.error(f"\n✗ interrupted ({stop}): stopping the nodes")
        return 128 + stop.signum
    finally:
        nodes.stop_all()
        if options.keep:
            sys.stderr.write(f"demo: kept {demo_dir}\n")
        else:
            shutil.rmtree(demo_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
