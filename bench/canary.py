"""Benchmark: ``adapterctl canary analyze`` over 24 h of gateway metrics in a real Prometheus.

Data: 24 h (``--hours``) plus one analysis interval of the gateway's series for one alias
(``support-bot`` in ``prod``) with 10 revisions (1.0.0 … 1.9.0), as a Prometheus scraping
every 15 s would hold them from 2 gateway replicas (``job``, ``instance`` labels), each
with 2 nodes × 2 tenants (``acme``, ``other``) per revision: ``requests_total{code}`` and
the duration, time-to-first-token and output-token histograms (the gateway's own buckets;
cumulative buckets non-decreasing, ``+Inf`` equal to ``_count``): 6,320 series, 36.5 M
samples. Rates: 20 req/s for the stable 1.0.0, 2.5 for the canary 1.9.0, 0.5 for each of
the 8 others; requests drawn per scrape (Poisson), codes, latencies and lengths from fixed
distributions, the same for every revision (seeded: every run has the same counts).

Ingestion (timed apart, the "setup"), into Prometheus in a temporary folder on loopback:

- ``remote-write`` (default): the samples are sent to Prometheus' remote-write receiver
  in time order, 10 minutes of every series per request, two requests at a time; the data
  ends a minute before now. Prometheus cuts and compacts blocks as it would while scraping,
  so the day ends up as it would in production: compacted blocks and ~3 h in the head. The
  measurement starts once Prometheus has been idle for a second.
- ``promtool``: OpenMetrics text (``# TYPE``, explicit timestamps, ``# EOF``), one file per
  2-hour block (promtool 2.42 parses its whole input once per block, and once more for the
  time range), backfilled with ``promtool tsdb create-blocks-from openmetrics`` two at a
  time while the next file is written; Prometheus then runs with compaction off (hidden
  flag ``--storage.tsdb.max-block-duration=2h``) so that it cannot run during the timings:
  13 two-hour blocks, more to merge than a compacted day. On the 2-core machine this setup
  alone took 4 to 5 minutes (promtool's parsing), against about one for remote write.

The registry is a copy of this repository's example registry whose ``prod`` environment
routes support-bot 1.0.0 at 90 and 1.9.0 at 10, with ``analysis: {interval: 5m, count:
288, min_requests: 200}`` (288 windows of 5 minutes: the whole day); 1.3.0 … 1.9.0 get
revision manifests copied from 1.1.0. The other 8 revisions are not routed, but their
series are there: the queries (``sum by (version, …)``) read every version of the alias.

Measured, the last window ending where the data ends: the analysis in-process,
``from_prometheus(target(...), Prometheus(url), at)`` (registry load, 5 ``query_range``
calls, JSON, the judge over 288 windows), and its peer, ``adapterctl canary analyze ...
--format json`` as a subprocess, start-up included; interleaved. The first round is shown
apart (the first read of the data), then the median and best of ``--runs`` rounds (3). Each
in-process run is split into registry, ``Prometheus.windows`` and the judge; one more run
of the 5 queries with ``stats=all`` gives Prometheus' own evaluation time and the samples
read; CPU seconds of Prometheus (from /proc) and of this process per analysis are shown,
as they move less than wall time when the machine is shared. Checks: 288 measurements,
requests from both revisions in every window, the CLI's verdict equal to the in-process
one (exit 1 when one fails). Target: ≤ 2 s for the analysis, reported, never failed.
Usage: ``python bench/canary.py [--quick] [--hours 24] [--runs 3]
[--ingest remote-write|promtool] [--dir /tmp]`` (--quick: 6 h of data, 72 windows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import yaml

from adapterctl.canary.analysis import Result, from_prometheus, target
from adapterctl.canary.judge import Phase
from adapterctl.canary.sources import Prometheus, Versions, queries
from adapterctl.canary.traffic import DURATION, REQUESTS, TOKENS, TTFT
from adapterctl.gateway.metrics import LATENCY_BUCKETS, TOKEN_BUCKETS
from adapterctl.layout import ROOTS
from summary import figure

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 2.0
ENV, ALIAS = "prod", "support-bot"
VERSIONS = tuple(f"1.{minor}.0" for minor in range(10))
STABLE, CANARY = VERSIONS[0], VERSIONS[-1]
RATES = {STABLE: 20.0, CANARY: 2.5}
"""Requests per second of a revision, every replica, node and tenant together."""
OTHER_RATE = 0.5
REPLICAS = ("gateway-0:8080", "gateway-1:8080")
NODES = ("node-a", "node-b")
TENANTS = {"acme": 0.3, "other": 0.7}
"""Each tenant's share of a revision's requests."""
CODES = {"2xx": 0.985, "4xx": 0.012, "5xx": 0.003}
STREAMED = 0.4
"""The share of successful requests that were streamed (they have a time to first token)."""
DISTRIBUTIONS = {DURATION: (0.35, 0.6), TTFT: (0.06, 0.5), TOKENS: (120.0, 0.7)}
"""Log-normal median and sigma of each histogram's observations (seconds; tokens)."""
SCRAPE_S = 15
INTERVAL_S = 300
BLOCK_S = 2 * 3600
"""promtool's (and Prometheus') block: 2 hours, aligned on the epoch."""
CHUNK_SCRAPES = 40
"""Scrapes per remote-write request (10 minutes of every series)."""
IN_FLIGHT = 2
"""Remote-write requests, or promtool processes, at once."""
START_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 120.0
T = TypeVar("T")
LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
Labels = tuple[tuple[str, str], ...]


# --- the synthetic series -------------------------------------------------------------------


@dataclass(frozen=True)
class Histogram:
    name: str
    les: tuple[str, ...]
    """The ``le`` labels, as prometheus_client writes them, ``+Inf`` last."""
    buckets: np.ndarray
    """Cumulative over time and over ``le``: (scrapes, les)."""
    sums: np.ndarray
    """The running ``_sum``: (scrapes,)."""


@dataclass(frozen=True)
class LabelSet:
    """One revision on one replica, node and tenant: its cumulative series."""

    labels: Labels
    requests: np.ndarray
    """(scrapes, codes)."""
    histograms: tuple[Histogram, ...]

    @property
    def text(self) -> str:
        return ",".join(f'{name}="{value}"' for name, value in self.labels)


def lognormal_buckets(bounds: Sequence[float], median: float, sigma: float) -> np.ndarray:
    """The probability of each bucket (the last one: above every bound)."""
    cdf = [0.5 * (1 + math.erf(math.log(b / median) / (sigma * math.sqrt(2)))) for b in bounds]
    return np.diff(np.array([0.0, *cdf, 1.0]))


def histogram(
    rng: np.random.Generator, name: str, bounds: Sequence[float], observed: np.ndarray
) -> Histogram:
    median, sigma = DISTRIBUTIONS[name]
    per_scrape = rng.multinomial(observed, lognormal_buckets(bounds, median, sigma))
    running = per_scrape.cumsum(axis=0)
    inside = [(lo + hi) / 2 for lo, hi in zip([0.0, *bounds], [*bounds, bounds[-1] * 2],
                                              strict=True)]  # fmt: skip
    les = (*(repr(float(b)) for b in bounds), "+Inf")
    return Histogram(name, les, running.cumsum(axis=1), running @ np.array(inside))


def label_sets(scrapes: int, seed: int = 1) -> list[LabelSet]:
    rng = np.random.default_rng(seed)
    found = []
    for version in VERSIONS:
        for replica in REPLICAS:
            for node in NODES:
                for tenant, share in TENANTS.items():
                    rate = RATES.get(version, OTHER_RATE) * share / len(REPLICAS) / len(NODES)
                    arrived = rng.poisson(rate * SCRAPE_S, scrapes)
                    codes = rng.multinomial(arrived, list(CODES.values()))
                    ok = codes[:, 0]
                    labels = (("env", ENV), ("alias", ALIAS), ("version", version),
                              ("tenant", tenant), ("node", node), ("job", "adapterctl-gateway"),
                              ("instance", replica))  # fmt: skip
                    found.append(LabelSet(labels, codes.cumsum(axis=0), (
                        histogram(rng, DURATION, LATENCY_BUCKETS, ok),
                        histogram(rng, TTFT, LATENCY_BUCKETS, rng.binomial(ok, STREAMED)),
                        histogram(rng, TOKENS, TOKEN_BUCKETS, ok),
                    )))  # fmt: skip
    return found


def every_series(sets: list[LabelSet]) -> list[tuple[Labels, np.ndarray]]:
    """Each series' labels (``__name__`` first) and its value at every scrape."""
    found = []
    for one in sets:
        for column, code in enumerate(CODES):
            name = (("__name__", REQUESTS),)
            found.append(((*name, *one.labels, ("code", code)), one.requests[:, column]))
        for h in one.histograms:
            for column, le in enumerate(h.les):
                bucket = (("__name__", f"{h.name}_bucket"),)
                found.append(((*bucket, *one.labels, ("le", le)), h.buckets[:, column]))
            found.append(((("__name__", f"{h.name}_count"), *one.labels), h.buckets[:, -1]))
            found.append(((("__name__", f"{h.name}_sum"), *one.labels), h.sums))
    return found


@dataclass(frozen=True)
class Data:
    stamps: np.ndarray
    """Unix seconds of every scrape; the last one is where the analysis ends."""
    sets: list[LabelSet]
    series: int

    @property
    def end(self) -> int:
        return int(self.stamps[-1])

    @property
    def samples(self) -> int:
        return self.series * len(self.stamps)


def generate(hours: float) -> Data:
    end = (int(time.time()) - 60) // SCRAPE_S * SCRAPE_S
    stamps = np.arange(end - int(hours * 3600) - INTERVAL_S, end + 1, SCRAPE_S, dtype=np.int64)
    sets = label_sets(len(stamps))
    per_set = len(CODES) + sum(len(h.les) + 2 for h in sets[0].histograms)
    return Data(stamps, sets, len(sets) * per_set)


# --- ingestion: remote write ----------------------------------------------------------------

SAMPLE = np.dtype([("tag", "u1"), ("size", "u1"), ("value_tag", "u1"), ("value", "<f8"),
                   ("stamp_tag", "u1"), ("stamp", "u1", (6,))])  # fmt: skip
"""A TimeSeries' ``samples`` entry in protobuf (field 2, 16 bytes): value (field 1, double),
timestamp (field 2, milliseconds as a varint: 6 bytes from 1971 to 2109)."""


def varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def message(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def snappy(raw: bytes) -> bytes:
    """Snappy's block format with one literal (no compression: the format allows it)."""
    if not 0 < len(raw) <= 1 << 24:
        raise ValueError("one literal of up to 16 MiB")
    return varint(len(raw)) + bytes([62 << 2]) + (len(raw) - 1).to_bytes(3, "little") + raw


def stamp_varints(ms: np.ndarray) -> np.ndarray:
    """Each timestamp as its 6-byte varint: (scrapes, 6)."""
    out = np.empty((len(ms), 6), np.uint8)
    rest = ms.astype(np.uint64)
    if rest.min() < 1 << 35 or rest.max() >= 1 << 42:
        raise ValueError("timestamps outside 1971–2109")
    for byte in range(6):
        out[:, byte] = (rest & np.uint64(0x7F)) | np.uint64(0x80 if byte < 5 else 0)
        rest >>= np.uint64(7)
    return out


@dataclass(frozen=True)
class Writer:
    url: str
    labels: list[bytes]
    """Each series' labels, encoded (sorted by name)."""
    values: np.ndarray
    """(series, scrapes)."""
    stamps: np.ndarray
    """(scrapes, 6): the varints."""

    def post(self, rows: range, scrapes: slice) -> int:
        """One WriteRequest: the ``scrapes`` of the series ``rows``; its size."""
        block = np.empty((len(rows), len(self.stamps[scrapes])), SAMPLE)
        block["tag"], block["size"], block["value_tag"], block["stamp_tag"] = 0x12, 16, 0x09, 0x10
        block["value"] = self.values[rows.start : rows.stop, scrapes]
        block["stamp"] = self.stamps[scrapes]
        body = snappy(b"".join(message(1, self.labels[row] + block[i].tobytes())
                               for i, row in enumerate(rows)))  # fmt: skip
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                   "X-Prometheus-Remote-Write-Version": "0.1.0"}  # fmt: skip
        request = urllib.request.Request(f"{self.url}/api/v1/write", body, headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            said = error.read().decode(errors="replace")[:500]
            raise RuntimeError(f"remote write refused: HTTP {error.code} {said}") from None
        return len(body)


def remote_write(url: str, data: Data) -> int:
    """Every sample to Prometheus' remote-write receiver, in time order; the bytes sent."""
    series = every_series(data.sets)
    labels = [b"".join(message(1, message(1, name.encode()) + message(2, value.encode()))
                       for name, value in sorted(found)) for found, _ in series]  # fmt: skip
    values = np.stack([column.astype(np.float64) for _, column in series])
    writer = Writer(url, labels, values, stamp_varints(data.stamps * 1000))
    half = len(series) // 2
    parts = (range(half), range(half, len(series)))
    sent = 0
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        for lo in range(0, len(data.stamps), CHUNK_SCRAPES):
            post = partial(writer.post, scrapes=slice(lo, lo + CHUNK_SCRAPES))
            sent += sum(pool.map(post, parts))  # both halves of one chunk before the next
    return sent


def settle(pid: int) -> float:
    """Wait until Prometheus used under 0.1 s of CPU in a second (its compactions done)."""
    began = time.monotonic()
    while time.monotonic() - began < SETTLE_TIMEOUT_S:
        before = cpu_seconds(pid)
        time.sleep(1.0)  # sampling its CPU time
        if cpu_seconds(pid) - before < 0.1:
            break
    return time.monotonic() - began


# --- ingestion: promtool --------------------------------------------------------------------


def openmetrics(sets: list[LabelSet], stamps: list[int], rows: slice) -> Iterator[str]:
    """OpenMetrics text of the scrapes ``rows`` (``stamps``: their unix seconds): per family,
    per label set, its points in time order (a histogram's buckets, _count, _sum together)."""
    family = REQUESTS.removesuffix("_total")
    yield f"# TYPE {family} counter\n# HELP {family} Requests answered.\n"
    for one in sets:
        for column, code in enumerate(CODES):
            prefix = f'{REQUESTS}{{{one.text},code="{code}"}} '
            pairs = zip(one.requests[rows, column].tolist(), stamps, strict=True)
            yield "".join(f"{prefix}{value} {stamp}\n" for value, stamp in pairs)
    for index, name in enumerate((DURATION, TTFT, TOKENS)):
        yield f"# TYPE {name} histogram\n# HELP {name} {name}.\n"
        for one in sets:
            found = one.histograms[index]
            prefixes = [f'{name}_bucket{{{one.text},le="{le}"}} ' for le in found.les]
            prefixes += [f"{name}_count{{{one.text}}} ", f"{name}_sum{{{one.text}}} "]
            buckets, sums = found.buckets[rows].tolist(), found.sums[rows].tolist()
            parts = []
            for stamp, row, total in zip(stamps, buckets, sums, strict=True):
                tail = f" {stamp}\n"
                values = [*map(str, row), str(row[-1]), f"{total:.3f}"]
                parts.append(tail.join(map(str.__add__, prefixes, values)))
                parts.append(tail)
            yield "".join(parts)
    yield "# EOF\n"


def backfill(folder: Path, data: Data) -> tuple[int, float]:
    """Write the series block by block and backfill each with promtool into folder/data;
    the number of blocks and the seconds spent writing the text."""
    stamps = data.stamps.tolist()
    start, end = stamps[0], stamps[-1]
    blocks = list(range(start // BLOCK_S * BLOCK_S, end + 1, BLOCK_S))
    running: list[tuple[subprocess.Popen[bytes], Path]] = []
    writing_s = 0.0
    for number, block in enumerate(blocks):
        lo = max(0, -(-(block - start) // SCRAPE_S))
        hi = min(len(stamps), -(-(block + BLOCK_S - start) // SCRAPE_S))
        path = folder / f"block-{number:02d}.om"
        began = time.perf_counter()
        with path.open("w") as out:
            out.writelines(openmetrics(data.sets, stamps[lo:hi], slice(lo, hi)))
        writing_s += time.perf_counter() - began
        command = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                   str(path), str(folder / "data")]  # fmt: skip
        running.append((subprocess.Popen(command, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT), path))  # fmt: skip
        while len(running) >= IN_FLIGHT or (running and number == len(blocks) - 1):
            process, done = running.pop(0)
            said, _ = process.communicate()
            done.unlink()
            if process.returncode != 0:
                raise RuntimeError(f"promtool failed on {done.name}: {said.decode()[-2000:]}")
    return len(blocks), writing_s


# --- Prometheus -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_prometheus(
    folder: Path, flags: Sequence[str]
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Prometheus (no scrape targets) in its own process group; not ready yet."""
    config = folder / "prometheus.yml"
    config.write_text("global: {scrape_interval: 15s, evaluation_interval: 15s}\n")
    port = free_port()
    log = folder / "prometheus.log"
    command = ["prometheus", f"--config.file={config}",
               f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
               "--storage.tsdb.retention.time=30d", *flags]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    return process, f"http://127.0.0.1:{port}", log


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:  # not listening yet, or not ready (HTTPError)
            pass
        time.sleep(0.1)  # polling a readiness endpoint
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
    raise RuntimeError(f"Prometheus not ready (exit {process.poll()}):\n{tail}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to Prometheus, then wait; SIGKILL to its group after 30 s."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def get_json(url: str, path: str, params: dict[str, str]) -> tuple[dict[str, object], bytes]:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}") as answer:
        body = answer.read()
    document: dict[str, object] = json.loads(body)
    return document, body


# --- the registry ---------------------------------------------------------------------------


def make_registry(target_dir: Path, count: int) -> Path:
    """This repository's example registry (as tests.conftest copies it), prod routing
    support-bot 1.0.0 at 90 and 1.9.0 at 10, with the analysis settings."""
    target_dir.mkdir(parents=True)
    for part in (*ROOTS, "schemas"):
        shutil.copytree(REPO / part, target_dir / part)
    (target_dir / "pyproject.toml").write_text("[tool.adapterctl]\n")
    folder = target_dir / "adapters" / ALIAS
    model = (folder / "1.1.0.yaml").read_text()
    for version in VERSIONS:
        if not (folder / f"{version}.yaml").exists():
            (folder / f"{version}.yaml").write_text(
                model.replace("version: 1.1.0", f"version: {version}")
            )
    path = target_dir / "environments" / ENV / "environment.yaml"
    environment = yaml.safe_load(path.read_text())
    environment["routes"][ALIAS] = [{"version": STABLE, "weight": 90},
                                    {"version": CANARY, "weight": 10}]  # fmt: skip
    environment["analysis"] = {"interval": f"{INTERVAL_S // 60}m", "count": count,
                               "min_requests": 200}  # fmt: skip
    path.write_text(yaml.safe_dump(environment, sort_keys=False))
    return target_dir


# --- the measurement ------------------------------------------------------------------------


def timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


@dataclass(frozen=True)
class Recording(Prometheus):
    """Prometheus, noting how long ``windows`` took and what it answered."""

    seen: list[tuple[float, dict[float, Versions]]] = field(default_factory=list)

    def windows(
        self, env: str, alias: str, versions: Sequence[str], ends: Sequence[float], seconds: int
    ) -> dict[float, Versions]:
        def run() -> dict[float, Versions]:
            return super(Recording, self).windows(env, alias, versions, ends, seconds)

        took, found = timed(run)
        self.seen.append((took, found))
        return found


@dataclass(frozen=True)
class Run:
    seconds: float
    registry_s: float
    windows_s: float
    judge_s: float
    prometheus_cpu_s: float
    own_cpu_s: float
    result: Result


def in_process(root: Path, url: str, at: int, pid: int) -> Run:
    """``from_prometheus(target(...), Prometheus(url), at)``, timed in its parts."""
    prometheus = Recording(url)
    cpu, own = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    subject = target(root, ENV, ALIAS)
    loaded = time.perf_counter()
    result = from_prometheus(subject, prometheus, at)
    ended = time.perf_counter()
    windows_s = prometheus.seen[0][0]
    return Run(ended - started, loaded - started, windows_s, ended - loaded - windows_s,
               cpu_seconds(pid) - cpu, time.process_time() - own, result)  # fmt: skip


def cli_command(root: Path, url: str, at: int) -> list[str]:
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return [sys.executable, "-m", "adapterctl", "canary", "analyze", ALIAS, "--env", ENV,
            "--prometheus", url, "--at", when, "--root", str(root), "--format", "json"]  # fmt: skip


def cli(command: list[str]) -> tuple[float, dict[str, object]]:
    """The CLI's wall time, start-up included, and its JSON report."""
    env = {**os.environ, **LOOPBACK, "TZ": "UTC"}  # --at is read as local time
    took, done = timed(lambda: subprocess.run(command, capture_output=True, env=env, check=False))
    if done.returncode not in (0, 1):
        raise RuntimeError(f"canary analyze: exit {done.returncode}: {done.stderr.decode()}")
    document: dict[str, object] = json.loads(done.stdout)
    return took, document


@dataclass(frozen=True)
class Stats:
    eval_s: float
    """Prometheus' own evaluation of the 5 queries (``stats=all``)."""
    samples: int
    series: int
    answer_bytes: int
    json_s: float


def query_stats(url: str, at: int, count: int) -> Stats:
    """The analysis' queries once more, with Prometheus' statistics; the series each reads."""
    eval_s = json_s = 0.0
    samples = series = answer_bytes = 0
    for query in queries(ENV, ALIAS, INTERVAL_S, (STABLE, CANARY)):
        params = {"query": query.promql, "start": str(at - (count - 1) * INTERVAL_S),
                  "end": str(at), "step": f"{INTERVAL_S}s", "stats": "all"}  # fmt: skip
        _, body = get_json(url, "/api/v1/query_range", params)
        parsing = time.perf_counter()
        document = json.loads(body)
        json_s += time.perf_counter() - parsing
        stats = document["data"]["stats"]
        eval_s += float(stats["timings"]["evalTotalTime"])
        samples += int(stats["samples"]["totalQueryableSamples"])
        answer_bytes += len(body)
        selector = query.promql.split("increase(", 1)[1].rsplit("[", 1)[0]
        counted, _ = get_json(url, "/api/v1/query", {"query": f"count({selector})",
                                                     "time": str(at)})  # fmt: skip
        result = counted["data"]["result"]  # type: ignore[index]
        series += int(result[0]["value"][1]) if result else 0
    return Stats(eval_s, samples, series, answer_bytes, json_s)


def check(result: Result, document: dict[str, object], count: int) -> str | None:
    """What is wrong with the analysis, or None."""
    if len(result.measurements) != count:
        return f"{len(result.measurements)} measurements, not {count}"
    empty = [m.window.index for m in result.measurements
             if m.canary.total == 0 or m.stable.total == 0]  # fmt: skip
    if empty:
        return f"no requests from a revision in windows {empty[:10]}"
    measured = document.get("measurements")
    if not isinstance(measured, list) or len(measured) != count:
        return "the CLI's JSON does not have every measurement"
    if document.get("phase") != result.phase.value:
        return f"the CLI said {document.get('phase')}, in-process {result.phase.value}"
    return None


def row(name: str, first: float, times: list[float]) -> tuple[str, ...]:
    median = statistics.median(times)
    return (name, f"{first:.2f} s", f"{median:.2f} s", f"{min(times):.2f} s",
            f"≤ {TARGET_S:g} s {'met' if median <= TARGET_S else 'MISSED'}")  # fmt: skip


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(line[i]) for line in rows) for i in range(len(rows[0]))]
    for number, line in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def measure(root: Path, url: str, pid: int, at: int, runs: int, count: int) -> int:
    command = cli_command(root, url, at)
    first, (first_cli, document) = in_process(root, url, at, pid), cli(command)
    ours: list[Run] = []
    theirs: list[float] = []
    for _ in range(runs):  # interleaved: load from elsewhere falls on both alike
        ours.append(in_process(root, url, at, pid))
        theirs.append(cli(command)[0])
    stats = query_stats(url, at, count)
    startup_s, _ = timed(lambda: subprocess.run([*command[:5], "--help"], capture_output=True,
                                                check=True))  # fmt: skip
    result = first.result
    phases = [m.phase for m in result.measurements]
    canary = sum(m.canary.total for m in result.measurements)
    stable = sum(m.stable.total for m in result.measurements)
    print(f"analysis: {count} windows of {INTERVAL_S // 60} min over {len(VERSIONS)} revisions; "
          f"the {len(queries(ENV, ALIAS, INTERVAL_S, (STABLE, CANARY)))} query_range calls read "
          f"{stats.series:,} series, {stats.samples:,} samples")  # fmt: skip
    print(f"verdict: {result.reason}; windows {phases.count(Phase.SUCCESSFUL)} successful, "
          f"{phases.count(Phase.FAILED)} failed, {phases.count(Phase.INCONCLUSIVE)} "
          f"inconclusive; requests judged: canary {canary:,}, stable {stable:,}\n")  # fmt: skip
    seconds = [run.seconds for run in ours]
    print_table([
        ("analysis", "first", f"median of {runs}", "best", "target"),
        row("from_prometheus(target(...)), in-process", first.seconds, seconds),
        row("adapterctl canary analyze --format json", first_cli, theirs),
    ])  # fmt: skip

    def median(pick: Callable[[Run], float]) -> float:
        return statistics.median(pick(run) for run in ours)

    windows_s = median(lambda r: r.windows_s)
    print(f"\nwhere the in-process time goes (medians): registry and target "
          f"{median(lambda r: r.registry_s):.2f} s; Prometheus.windows {windows_s:.2f} s "
          f"(one more run with stats=all: Prometheus evaluating {stats.eval_s:.2f} s, "
          f"{stats.answer_bytes / 1e6:.1f} MB of JSON parsed in {stats.json_s:.2f} s); the "
          f"judge over {count} windows {median(lambda r: r.judge_s):.2f} s")  # fmt: skip
    print(f"CPU per analysis (medians): Prometheus {median(lambda r: r.prometheus_cpu_s):.2f} s,"
          f" this process {median(lambda r: r.own_cpu_s):.2f} s; the CLI's start-up alone "
          f"(canary analyze --help) {startup_s:.2f} s")  # fmt: skip
    problem = check(result, document, count)
    if problem is not None:
        print(f"\nCHECK FAILED: {problem}")
        return 1
    ours_s, cli_s = statistics.median(seconds), statistics.median(theirs)
    what = f"canary analysis, {count * INTERVAL_S / 3600:g} h ({count} windows), 10 revisions"
    figure("canary", what, f"{ours_s:.2f} s", peer=f"CLI {cli_s:.2f} s",
           ratio=f"{cli_s / ours_s:.2f}×", target=f"≤ {TARGET_S:g} s",
           met=ours_s <= TARGET_S)  # the analysis; the CLI adds its start-up  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 h of data (72 windows)")
    parser.add_argument("--hours", type=float, default=None, help="hours analysed (24)")
    parser.add_argument("--runs", type=int, default=3, help="timed rounds (3)")
    parser.add_argument("--ingest", choices=("remote-write", "promtool"), default="remote-write")
    parser.add_argument("--dir", type=Path, default=None, help="for the temporary folder")
    args = parser.parse_args(argv)
    hours = args.hours or (6.0 if args.quick else 24.0)
    count = round(hours * 3600 / INTERVAL_S)
    for binary in ("prometheus", "promtool"):
        if shutil.which(binary) is None:
            print(f"{binary} is not installed (apt-get install prometheus)")
            return 1
    os.environ.update(LOOPBACK)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        root = make_registry(folder / "registry", count)
        began = time.perf_counter()
        generate_s, data = timed(lambda: generate(hours))
        print(f"setup: {data.series:,} series × {len(data.stamps):,} scrapes = "
              f"{data.samples:,} samples, generated in {generate_s:.1f} s", flush=True)  # fmt: skip
        if args.ingest == "promtool":
            blocks, writing_s = backfill(folder, data)
            so_far = time.perf_counter() - began
            print(f"setup: {blocks} block files written in {writing_s:.0f} s and backfilled by "
                  f"promtool alongside, {so_far:.0f} s so far", flush=True)  # fmt: skip
        flags = {"promtool": ["--storage.tsdb.min-block-duration=2h",
                              "--storage.tsdb.max-block-duration=2h"],
                 "remote-write": ["--web.enable-remote-write-receiver"]}[args.ingest]  # fmt: skip
        process, url, log = start_prometheus(folder, flags)
        try:
            wait_ready(process, url, log)
            if args.ingest == "remote-write":
                sent_s, sent = timed(lambda: remote_write(url, data))
                settle_s = settle(process.pid)
                print(f"setup: remote-written ({sent / 1e6:.0f} MB) in {sent_s:.0f} s, Prometheus "
                      f"using {cpu_seconds(process.pid):.0f} s of CPU, idle {settle_s:.0f} s "
                      "later", flush=True)  # fmt: skip
            print(f"setup: {time.perf_counter() - began:.0f} s in all\n", flush=True)
            return measure(root, url, process.pid, data.end, args.runs, count)
        finally:
            stop(process)


if __name__ == "__main__":
    sys.exit(main())
