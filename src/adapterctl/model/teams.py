"""Who is who on GitHub: ``teams.yaml`` at the repository root (or a verifier-held copy).

``teams`` lists the members of every team that CODEOWNERS or an environment's
``promotion.approver_teams`` names; ``people`` maps the identities that train and sign
adapters (``training.trained_by``, artifact signers: service accounts, e-mail addresses)
to GitHub logins, so that the policy check can tell when the trainer approves their own
adapter. GitHub logins and team names are case-insensitive, and so are the lookups here.

The policy check reads this file from the target branch (``--base-ref``) or from a path the
verifier gives (``--teams``), never from the pull request under check: a pull request that
could add its author to a team could approve itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field

from adapterctl.model.common import Frozen, Text, pattern_type

LOGIN_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$"
TEAM_PATTERN = r"^@[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+$"
_LOGIN = re.compile(LOGIN_PATTERN)

if TYPE_CHECKING:  # validated strings; mypy sees str
    Login = str
    TeamName = str
else:
    Login = pattern_type(
        "login",
        LOGIN_PATTERN,
        "A GitHub login (no '@'), e.g. octocat or dependabot[bot].",
        "'{value}' is not a GitHub login: letters, digits and '-', at most 39, no '@'",
        max_length=44,
    )
    TeamName = pattern_type(
        "team",
        TEAM_PATTERN,
        "A GitHub team as CODEOWNERS writes it: @org/team.",
        "'{value}' is not a GitHub team: expected @org/team",
    )


def is_login(text: str) -> bool:
    """Whether ``text`` could be a GitHub login (an identity that needs no mapping)."""
    return _LOGIN.fullmatch(text) is not None


class Teams(Frozen):
    """Team members and the GitHub login of each training or signing identity."""

    teams: dict[TeamName, tuple[Login, ...]] = Field(default_factory=dict)
    """Team (@org/team) → the GitHub logins of its members."""
    people: dict[Text, Login] = Field(default_factory=dict)
    """Identity (training.trained_by, an artifact signer, an e-mail owner in CODEOWNERS) →
    GitHub login."""

    def knows(self, team: str) -> bool:
        """Whether ``team`` is listed (case-insensitive)."""
        return any(name.casefold() == team.casefold() for name in self.teams)

    def members(self, team: str) -> frozenset[str]:
        """The case-folded logins of ``team``'s members (empty when the team is unknown)."""
        return frozenset(
            login.casefold()
            for name, logins in self.teams.items()
            if name.casefold() == team.casefold()
            for login in logins
        )

    def login_of(self, identity: str) -> str | None:
        """The GitHub login of ``identity``: its ``people`` entry, else the identity itself
        when it could be a login, else None."""
        for name, login in self.people.items():
            if name.casefold() == identity.casefold():
                return login
        return identity if is_login(identity) else None
