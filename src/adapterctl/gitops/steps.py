"""The routes of one alias after a promotion step or a rollback: pure functions.

A route with weight 0 is *retained*: no traffic, but kept loadable so that a rollback is a
pointer change. The active routes come first, in their order, then the retained ones,
most recently active first; at most ``retain`` retained routes are kept.
"""

from __future__ import annotations

from adapterctl.errors import InputError, UsageError

Routes = tuple[tuple[str, int], ...]
"""(version, weight) in file order."""


def describe(routes: Routes) -> str:
    """``1.0.0 90 %, 1.1.0 10 %, 0.9.0 retained`` (``none`` when not routed)."""
    parts = [f"{v} {w} %" if w else f"{v} retained" for v, w in routes]
    return ", ".join(parts) or "none"


def active(routes: Routes) -> Routes:
    return tuple((version, weight) for version, weight in routes if weight > 0)


def retained(routes: Routes) -> tuple[str, ...]:
    return tuple(version for version, weight in routes if weight == 0)


def promote(routes: Routes, version: str, weight: int | None, *, retain: int) -> Routes:
    """The routes after routing ``version`` at ``weight`` % (``None``: all traffic)."""
    serving = active(routes)
    if weight is None:
        return _finish(routes, version, retain)
    if not 1 <= weight <= 99:
        raise UsageError(f"--weight {weight}: a canary weight is 1–99 (use --finish for 100 %)")
    if not serving:
        raise UsageError(
            f"--weight {weight}: the alias serves nothing yet, so there is nothing to share "
            "traffic with; promote without --weight to route all of it"
        )
    others = [v for v, _ in serving if v != version]
    if not others:
        raise InputError(f"{version} already receives all of the alias's traffic")
    if len(others) > 1:
        raise InputError(
            f"the alias is already split between {describe(serving)}; "
            "finish or roll back that canary first"
        )
    main = others[0]
    rest = tuple((v, 0) for v in retained(routes) if v not in (version, main))
    return ((main, 100 - weight), (version, weight), *rest)


def _finish(routes: Routes, version: str, retain: int) -> Routes:
    previous = [v for v, _ in sorted(active(routes), key=lambda r: -r[1]) if v != version]
    keep = [*previous, *(v for v in retained(routes) if v != version)][:retain]
    return ((version, 100), *((v, 0) for v in keep))


def restore(routes: Routes, version: str, *, retain: int) -> Routes:
    """``rollback --to VERSION``: all traffic to ``version``, the others retained."""
    return _finish(routes, version, retain)
