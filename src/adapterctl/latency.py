"""Latency verdicts that do not depend on how fast or how busy the measuring machine is.

The golden gate, the pressure gate and the canary judge share these (DESIGN.md §3). Two
questions, each with a stated test at one significance level, :data:`ALPHA`:

- **Is the candidate slower than its limit relative to the baseline?** Both revisions were
  measured interleaved on the same node in the same run, so a slow or busy machine slows
  both alike. The limit turns each baseline latency ``b`` into the most the candidate may
  take, ``max(ratio × b, b + min_delta)`` (below ``min_delta`` a difference is scheduling
  noise). Where both revisions answered the same requests (the golden gate's case and
  repeat, the pressure gate's schedule), a one-sided **Wilcoxon signed-rank test** on the
  pairs asks whether the candidate's latency exceeds its request's limit: pairing removes
  the spread between short and long prompts, which dwarfs a regression. Otherwise (live
  traffic) a one-sided **Mann-Whitney U test** asks whether the candidate's latencies are
  stochastically greater than the limits. Exact p-values when nothing ties and the samples
  are small; otherwise the normal approximation with tie and continuity correction.
- **Is the candidate's percentile over an absolute budget?** If its true ``q``-th
  percentile were within the budget, each request would be over the budget with
  probability at most ``1 - q``; a one-sided **binomial test** on the number of requests
  over the budget asks whether there are too many for that.

The verdict: **fail** when this run's percentile is over the limit *and* the test is
significant (``p < ALPHA``); **inconclusive** when the samples are too few for the test to
ever reach ``ALPHA``, or when this run's percentile is over the limit but not
significantly (one slow request neither passes nor fails a revision); **pass** otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

PAIRED = "Wilcoxon signed-rank"
UNPAIRED = "Mann-Whitney U"
BINOMIAL = "binomial"
ALPHA = 0.01
"""Significance level of every latency test: the chance of failing a revision that is in
fact exactly at its limit. A revision well within it fails far less often."""
_EXACT_MAX_PAIRS = 2500
_EXACT_MAX_PAIRED = 200


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile: the smallest value that at least ``p`` % of the
    values do not exceed. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100 - 1e-9))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class RatioLimit:
    """The most the candidate may take, relative to the baseline."""

    ratio: float
    min_delta_ms: float = 0.0

    def allowed(self, baseline_ms: float) -> float:
        return max(baseline_ms * self.ratio, baseline_ms + self.min_delta_ms)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A verdict and the numbers behind it."""

    verdict: Verdict
    test: str
    """:data:`PAIRED`, :data:`UNPAIRED` or :data:`BINOMIAL`."""
    samples: int
    """The candidate's samples."""
    others: int
    """The baseline's samples (ratio), or the candidate's samples over the budget (budget)."""
    value: float
    """This run's percentile of the candidate."""
    limit: float
    """What that percentile may be in this run: the allowed percentile, or the budget."""
    p_value: float | None
    """None when the samples are too few for the test to reach :data:`ALPHA`."""
    smallest_p: float
    """The smallest p-value these sample sizes allow."""

    @property
    def too_few(self) -> bool:
        return self.p_value is None

    @property
    def needed(self) -> str:
        """The least sample that can reach :data:`ALPHA` with this test, in words."""
        if self.test == PAIRED:
            return f"at least {pairs_needed()} requests answered by both revisions"
        return f"at least {samples_needed()} requests of each revision"

    def describe(self) -> str:
        """The test and its numbers, for a finding: ``Mann-Whitney U p = 0.0004 < 0.01 …``."""
        if self.p_value is None:
            return (
                f"{self._sizes()} cannot reach the {self.test} test's significance level "
                f"{ALPHA:g}: the smallest p-value they allow is {self.smallest_p:.3g}"
            )
        relation = "<" if self.p_value < ALPHA else "≥"
        return f"{self.test} test p = {self.p_value:.3g} {relation} {ALPHA:g}, {self._sizes()}"

    def _sizes(self) -> str:
        if self.test == BINOMIAL:
            return f"{self.others} of {self.samples} requests over the budget"
        if self.test == PAIRED:
            return f"{self.samples} requests answered by both"
        return f"{self.samples} and {self.others} requests"


def compare(
    candidate: Sequence[float], baseline: Sequence[float], limit: RatioLimit, p: float
) -> Evidence:
    """Whether ``candidate`` is slower than ``limit`` allows relative to ``baseline``,
    reported at the ``p``-th percentile. Both must be non-empty."""
    allowed = [limit.allowed(b) for b in baseline]
    value, bound = percentile(candidate, p), percentile(allowed, p)
    assert value is not None, "compare() needs candidate samples"
    assert bound is not None, "compare() needs baseline samples"
    m, n = len(candidate), len(allowed)
    smallest = 1 / math.comb(m + n, m)
    p_value = mann_whitney_greater(candidate, allowed) if smallest <= ALPHA else None
    verdict = _verdict(p_value, over=value > bound)
    return Evidence(verdict, UNPAIRED, m, n, value, bound, p_value, smallest)


@dataclass(frozen=True, slots=True)
class Binned:
    """A histogram: ``counts[i]`` observations in (``bounds[i-1]``, ``bounds[i]``], the last
    bound being infinity (Prometheus' ``le`` buckets, made non-cumulative)."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)

    def percentile(self, p: float) -> float | None:
        """Prometheus' ``histogram_quantile``: linear within the bucket holding the rank; the
        highest finite bound when the rank falls in the +Inf bucket. None when empty."""
        total = self.total
        if total == 0:
            return None
        rank, seen, lower = p / 100 * total, 0, 0.0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            if count and seen + count >= rank:
                if math.isinf(bound):
                    return lower
                return lower + (bound - lower) * (rank - seen) / count
            seen += count
            lower = bound if not math.isinf(bound) else lower
        return lower


def compare_binned(candidate: Binned, baseline: Binned, limit: RatioLimit, p: float) -> Evidence:
    """:func:`compare` on histograms (live traffic measured by a gateway): each bucket
    stands for its upper bound, the baseline's turned into what the candidate may take,
    and the Mann-Whitney U test runs on the groups with the tie correction. Both must be
    non-empty."""
    value, base = candidate.percentile(p), baseline.percentile(p)
    assert value is not None, "compare_binned() needs candidate observations"
    assert base is not None, "compare_binned() needs baseline observations"
    m, n = candidate.total, baseline.total
    log_smallest = math.lgamma(m + 1) + math.lgamma(n + 1) - math.lgamma(m + n + 1)
    smallest = math.exp(log_smallest)
    p_value = None
    if smallest <= ALPHA:
        allowed = Binned(tuple(limit.allowed(b) for b in baseline.bounds), baseline.counts)
        p_value = mann_whitney_binned(candidate, allowed)
    verdict = _verdict(p_value, over=value > limit.allowed(base))
    return Evidence(verdict, UNPAIRED, m, n, value, limit.allowed(base), p_value, smallest)


def mann_whitney_binned(x: Binned, y: Binned) -> float:
    """One-sided p-value that ``x`` is stochastically greater than ``y``, from counts of
    equal values (every observation of a bucket ties with the others of that value)."""
    values = sorted(set(x.bounds) | set(y.bounds))
    xs = dict.fromkeys(values, 0)
    ys = dict.fromkeys(values, 0)
    for bound, count in zip(x.bounds, x.counts, strict=True):
        xs[bound] += count
    for bound, count in zip(y.bounds, y.counts, strict=True):
        ys[bound] += count
    u, below = 0.0, 0
    for value in values:
        u += xs[value] * (below + ys[value] / 2)
        below += ys[value]
    ties = [xs[v] + ys[v] for v in values if xs[v] + ys[v]]
    return _normal_upper_tail(x.total, y.total, u, ties)


def fisher_greater(errors: int, total: int, base_errors: int, base_total: int) -> float:
    """One-sided p-value of Fisher's exact test that the first error rate is higher: the
    chance, with both rates equal and the totals fixed, of the first seeing at least
    ``errors`` of the ``errors + base_errors`` errors (a hypergeometric upper tail)."""
    drawn, population = errors + base_errors, total + base_total
    lg = math.lgamma

    def log_choose(n: int, k: int) -> float:
        return lg(n + 1) - lg(k + 1) - lg(n - k + 1)

    norm = log_choose(population, total)
    terms = (
        math.exp(log_choose(drawn, k) + log_choose(population - drawn, total - k) - norm)
        for k in range(errors, min(drawn, total) + 1)
    )
    return min(1.0, math.fsum(terms))


def compare_paired(pairs: Sequence[tuple[float, float]], limit: RatioLimit, p: float) -> Evidence:
    """Like :func:`compare`, for (candidate, baseline) latencies of the same requests."""
    candidate = [c for c, _ in pairs]
    allowed = [limit.allowed(b) for _, b in pairs]
    value, bound = percentile(candidate, p), percentile(allowed, p)
    assert value is not None, "compare_paired() needs pairs"
    assert bound is not None, "compare_paired() needs pairs"
    differences = [c - a for c, a in zip(candidate, allowed, strict=True) if c != a]
    smallest = 0.5 ** len(differences)
    p_value = wilcoxon_greater(differences) if smallest <= ALPHA else None
    verdict = _verdict(p_value, over=value > bound)
    return Evidence(verdict, PAIRED, len(pairs), len(pairs), value, bound, p_value, smallest)


def budget(samples: Sequence[float], limit_ms: float, p: float) -> Evidence:
    """Whether the ``p``-th percentile of ``samples`` is over ``limit_ms``. Non-empty."""
    value = percentile(samples, p)
    assert value is not None, "budget() needs samples"
    n = len(samples)
    over = sum(1 for s in samples if s > limit_ms)
    chance = 1 - p / 100
    smallest = chance**n
    p_value = binomial_tail(n, over, chance) if smallest <= ALPHA else None
    verdict = _verdict(p_value, over=value > limit_ms)
    return Evidence(verdict, BINOMIAL, n, over, value, limit_ms, p_value, smallest)


def _verdict(p_value: float | None, *, over: bool) -> Verdict:
    if p_value is None:
        return Verdict.INCONCLUSIVE
    if not over:
        return Verdict.PASS
    return Verdict.FAIL if p_value < ALPHA else Verdict.INCONCLUSIVE


def samples_needed(alpha: float = ALPHA) -> int:
    """The fewest samples per revision (as many of each) that can reach ``alpha``."""
    n = 1
    while 1 / math.comb(2 * n, n) > alpha:
        n += 1
    return n


def pairs_needed(alpha: float = ALPHA) -> int:
    """The fewest pairs (none equal) that can reach ``alpha`` with the signed-rank test."""
    return math.ceil(math.log2(1 / alpha))


def wilcoxon_greater(differences: Sequence[float]) -> float:
    """One-sided p-value of the Wilcoxon signed-rank test for "the differences are
    centred above 0" (zeros already dropped)."""
    n = len(differences)
    ranks, ties = _ranks([abs(d) for d in differences])
    w = math.fsum(r for r, d in zip(ranks, differences, strict=True) if d > 0)
    if not any(t > 1 for t in ties) and n <= _EXACT_MAX_PAIRED:
        counts = _w_counts(n)
        return sum(counts[round(w) :]) / (1 << n)
    variance = n * (n + 1) * (2 * n + 1) / 24 - sum(t**3 - t for t in ties) / 48
    if variance <= 0:
        return 1.0
    z = (w - n * (n + 1) / 4 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _w_counts(n: int) -> list[int]:
    """How many sign patterns give each W+ (0 … n(n+1)/2): the coefficients of
    ∏_{i=1..n} (1 + q^i)."""
    poly = [1]
    for i in range(1, n + 1):
        grown = poly + [0] * i
        for degree, count in enumerate(poly):
            grown[degree + i] += count
        poly = grown
    return poly


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided p-value of the Mann-Whitney U test for "x is stochastically greater than y"."""
    m, n = len(x), len(y)
    ranks, ties = _ranks([*x, *y])
    u = sum(ranks[:m]) - m * (m + 1) / 2
    if not any(t > 1 for t in ties) and m * n <= _EXACT_MAX_PAIRS:
        return _exact_upper_tail(m, n, round(u))
    return _normal_upper_tail(m, n, u, ties)


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks (1-based) in the input's order, and the size of each group of equal values."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1
        ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


def _exact_upper_tail(m: int, n: int, u: int) -> float:
    counts = _u_counts(m, n)
    return sum(counts[u:]) / math.comb(m + n, m)


def _u_counts(m: int, n: int) -> list[int]:
    """How many orderings give each U (0 … m·n): the coefficients of the Gaussian binomial
    coefficient [m+n choose m]_q = ∏_{i=1..m} (1 - q^(n+i)) / (1 - q^i)."""
    poly = [1]
    for i in range(1, m + 1):
        shift = n + i
        product = poly + [0] * shift
        for degree, count in enumerate(poly):
            product[degree + shift] -= count
        for degree in range(i, len(product)):  # exact division by (1 - q^i)
            product[degree] += product[degree - i]
        poly = product[: i * n + 1]
    return poly


def _normal_upper_tail(m: int, n: int, u: float, ties: Sequence[int]) -> float:
    total = m + n
    tie_term = sum(t**3 - t for t in ties) / (total * (total - 1)) if total > 1 else 0.0
    variance = m * n / 12 * ((total + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (u - m * n / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def binomial_tail(n: int, k: int, chance: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, chance)."""
    if k <= 0:
        return 1.0
    if chance <= 0:
        return 0.0
    if chance >= 1:
        return 1.0
    log_p, log_q = math.log(chance), math.log1p(-chance)
    lg = math.lgamma
    terms = (
        math.exp(lg(n + 1) - lg(i + 1) - lg(n - i + 1) + i * log_p + (n - i) * log_q)
        for i in range(k, n + 1)
    )
    return min(1.0, math.fsum(terms))
