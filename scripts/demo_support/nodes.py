"""Serving nodes on loopback (reference nodes or vLLM): start, wait for health, always stop.

Each node runs in its own session (so the demo, not the terminal, decides when it stops)
and is stopped by process group: a vLLM node is an API server with an engine core and a
worker below it. ``stop_all`` runs from the demo's ``finally``, from ``atexit`` and after
SIGINT/SIGTERM. If the demo dies without cleaning up (SIGKILL), the kernel sends the node's
first process SIGTERM (Linux), and the guard (``guard.py``, started with the first node)
stops every node's whole group.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from demo_support.shell import DemoFailure

_PR_SET_PDEATHSIG = 1
_GUARD = Path(__file__).with_name("guard.py")
_running: list[Node] = []
_guard: list[subprocess.Popen[str]] = []


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start(
    name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, port: int | None = None
) -> Node:
    """Start a node in the background (on ``port``, else its ``--port``); its output goes
    to ``log``."""
    port = port or int(argv[argv.index("--port") + 1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads run in the demo
        )
    node = Node(name, port, process, log)
    _running.append(node)
    _tell_guard(f"start {process.pid}")
    return node


def _tell_guard(line: str) -> None:
    """Tell the guard a node's group started or stopped (started with the first node)."""
    if not _guard:
        _guard.append(
            subprocess.Popen(
                [sys.executable, str(_GUARD)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        )
    guard = _guard[0]
    if guard.stdin is None or guard.poll() is not None:
        return
    try:
        guard.stdin.write(line + "\n")
        guard.stdin.flush()
    except OSError:  # the guard is gone: the demo's own cleanup still runs
        return


def _healthy(node: Node) -> bool:
    try:
        with urllib.request.urlopen(f"{node.url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(nodes: Sequence[Node], deadline_s: float = 120) -> float:
    """Poll every node's ``/health`` until all answer 200; seconds it took."""
    started = time.monotonic()
    waiting = list(nodes)
    while waiting:
        for node in list(waiting):
            if node.process.poll() is not None:
                raise DemoFailure(
                    f"node {node.name} exited with {node.process.returncode} while starting",
                    node.log_tail(),
                )
            if _healthy(node):
                waiting.remove(node)
        if waiting and time.monotonic() - started > deadline_s:
            names = ", ".join(node.name for node in waiting)
            raise DemoFailure(f"no /health from {names} within {deadline_s:.0f} s")
        if waiting:  # the next poll, unless the node exits first
            with contextlib.suppress(subprocess.TimeoutExpired):
                waiting[0].process.wait(timeout=0.1)
    return time.monotonic() - started


def stop(node: Node, grace_s: float = 10) -> None:
    """SIGTERM the node's process group, SIGKILL what is left of it after ``grace_s``."""
    if node in _running:
        _running.remove(node)
    group = node.process.pid
    try:
        os.killpg(group, signal.SIGTERM)
        node.process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        node.process.wait()
    except ProcessLookupError:
        node.process.wait()
    with contextlib.suppress(ProcessLookupError):  # children that outlived the first process
        os.killpg(group, signal.SIGKILL)
    _wait_group_gone(group, grace_s)
    _tell_guard(f"stop {group}")


def _wait_group_gone(group: int, deadline_s: float) -> None:
    """Return once no process of ``group`` is left (a killed vLLM worker exits a moment
    after its engine core: "stopped" means gone, not signalled)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)  # polling for the kernel to finish the kill


def running() -> list[Node]:
    return list(_running)


def stop_all() -> None:
    for node in list(_running):
        stop(node)
    if _guard and _guard[0].stdin is not None and not _guard[0].stdin.closed:
        with contextlib.suppress(OSError):
            _guard[0].stdin.close()  # end of file: the guard has nothing left to stop
        with contextlib.suppress(subprocess.TimeoutExpired):
            _guard[0].wait(timeout=5)


class Interrupted(BaseException):
    """SIGINT or SIGTERM: unwind through the demo's ``finally``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second signal stops at once
    raise Interrupted(signum)


def install_cleanup() -> None:
    """Stop the nodes whatever happens: at exit, and on SIGINT or SIGTERM."""
    atexit.register(stop_all)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
