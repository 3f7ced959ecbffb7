"""How long a revision has been served in an environment, judged from git history.

"Served" means routed with a weight above 0 on the first-parent line of HEAD. The soak
starts at the commit (the merge, for a merged pull request) that last began serving it
and counts up to now; a revision taken out of traffic and back in starts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapterctl.gitops.history import Entry, history


@dataclass(frozen=True, slots=True)
class Soak:
    """Since when (and since which commit) a revision has been served, if it is."""

    environment: str
    since: datetime | None
    commit: str | None

    def served_for(self, now: datetime) -> timedelta | None:
        return None if self.since is None else now - self.since


def soak(root: Path, env: str, name: str, version: str) -> Soak:
    """When ``name@version`` last started being served in ``env`` without a break."""
    since: Entry | None = None
    for entry in reversed(history(root, env, alias=name)):
        for change in entry.changes:
            if change.version != version:
                continue
            if (change.after or 0) > 0 and not (change.before or 0) > 0:
                since = entry
            elif not (change.after or 0) > 0:
                since = None
    if since is None:
        return Soak(env, None, None)
    return Soak(env, _parse_date(since.date), since.commit)


def _parse_date(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
