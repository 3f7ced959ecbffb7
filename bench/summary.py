"""One machine-readable summary line per benchmark figure, for ``bench/run_all.py``.

Each benchmark prints its own readable report, then calls :func:`figure` for the figures
that matter: the line starts with ``BENCH`` and carries JSON, so the runner can build one
table from every benchmark's output.
"""

from __future__ import annotations

import json

PREFIX = "BENCH "


def figure(
    bench: str,
    what: str,
    ours: str,
    *,
    peer: str = "",
    ratio: str = "",
    target: str = "",
    met: bool | None = None,
) -> None:
    """Print one summary line (``met`` None: no target)."""
    fields = {"bench": bench, "what": what, "ours": ours, "peer": peer, "ratio": ratio,
              "target": target, "met": met}  # fmt: skip
    print(PREFIX + json.dumps(fields, ensure_ascii=False), flush=True)
