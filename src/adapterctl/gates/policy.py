"""The policy gate: separation of duties on a pull request (DESIGN.md §7).

Each reviewer's latest decisive review counts (APPROVED, CHANGES_REQUESTED or DISMISSED;
a later COMMENTED changes nothing). An approval counts only when it is on the head commit,
by someone with access to the repository, who is neither the author nor the trainer or
signer of an adapter the pull request touches. Then:

- ``approvals``: at least N counted approvals, N the largest ``required_approvals`` of the
  environments touched (1 when none is);
- ``code-owners``: every touched path (both names of a rename) has a counted approval from
  one of its code owners (the last matching CODEOWNERS rule); when the pull request changes
  CODEOWNERS itself, from one of its owners under the target branch's rules *and* one under
  the rules the pull request writes (a change of owners needs the old and the new ones);
- ``approver-teams``: every touched environment with ``approver_teams`` has a counted
  approval from a member of one of them (release managers for prod);
- ``self-approval``, ``trainer-approval``: errors of their own; so is
  ``changes-requested`` by a member or collaborator (it blocks merging on GitHub too);
  ``stale-approval`` and ``outside-approval`` are warnings (the approval just does not count).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from adapterctl.codeowners import CodeOwners, Rule
from adapterctl.findings import Finding, Location, Severity
from adapterctl.model.environment import Promotion
from adapterctl.model.teams import Teams
from adapterctl.policy.github import PullRequest, Review, short

DEFAULT_APPROVALS = 1
DECISIVE = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")
WITH_ACCESS = ("OWNER", "MEMBER", "COLLABORATOR")
"""``author_association`` values of people who belong to the repository."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """Someone who may not approve: they trained or signed an adapter the PR touches."""

    login: str
    identity: str
    role: str
    """'trained' or 'signed the artifact of'."""
    adapter: str
    """NAME@VERSION."""
    location: Location
    """Where the identity is recorded (the manifest's training.trained_by, the signers file)."""


@dataclass(frozen=True, slots=True)
class EnvironmentRules:
    """The promotion rules of one touched environment, as the target branch has them."""

    name: str
    path: str
    promotion: Promotion


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """Everything the gate judges: the pull request, and the policy it is judged by."""

    pr: PullRequest
    reviews: tuple[Review, ...]
    paths: tuple[str, ...]
    """Every path the pull request touches (both names of a rename)."""
    pr_file: str
    reviews_file: str
    owners: CodeOwners | None
    owners_file: str
    teams: Teams
    teams_file: str
    environments: tuple[EnvironmentRules, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    pr_owners: CodeOwners | None = None
    """The CODEOWNERS the pull request writes, when it changes the one ``owners`` came from."""
    pr_owners_file: str = "CODEOWNERS"


def _finding(
    rule: str,
    location: Location,
    message: str,
    hint: str | None = None,
    related: tuple[Location, ...] = (),
    severity: Severity = Severity.ERROR,
) -> Finding:
    return Finding(f"policy/{rule}", severity, location, message, hint, related)


def check(policy: PolicyInput) -> list[Finding]:
    """Every rule's findings for one pull request."""
    findings: list[Finding] = []
    approvers: list[Review] = []
    for review in latest_reviews(policy.reviews):
        problems = _judge(policy, review)
        findings += problems
        if review.state == "APPROVED" and not problems:
            approvers.append(review)
    findings += _approval_count(policy, approvers)
    unknown: set[str] = set()
    findings += _code_owners(policy, approvers, unknown)
    findings += _approver_teams(policy, approvers, unknown)
    findings += _unknown_teams(policy, unknown)
    return findings


def latest_reviews(reviews: Sequence[Review]) -> list[Review]:
    """Each reviewer's latest decisive review, in the order reviewers first decided."""
    latest: dict[str, Review] = {}
    for review in reviews:
        if review.reviewer is not None and review.state in DECISIVE:
            latest[review.reviewer.casefold()] = review
    return list(latest.values())


def _judge(policy: PolicyInput, review: Review) -> list[Finding]:
    """Why ``review`` does not count as an approval (nothing when it does)."""
    where = Location(policy.reviews_file, path=review.where)
    if review.state == "CHANGES_REQUESTED":
        return _changes_requested(review, where)
    if review.state != "APPROVED":
        return []
    return list(_conflicts(policy, review, where)) or _not_counted(policy, review, where)


def _changes_requested(review: Review, where: Location) -> list[Finding]:
    if review.association not in WITH_ACCESS:
        return []  # GitHub does not block on outsiders' requests either
    who = review.reviewer
    message = f"{who} requested changes (review {review.id} on {short(review.commit_id)})"
    hint = f"address the review, then ask {who} to approve or to dismiss it"
    return [_finding("changes-requested", where, message, hint)]


def _not_counted(policy: PolicyInput, review: Review, where: Location) -> list[Finding]:
    """A stale approval or one from outside the repository: a warning, no count."""
    who, head = review.reviewer, short(policy.pr.head_sha)
    if review.commit_id != policy.pr.head_sha:
        message = (
            f"{who} approved {short(review.commit_id)}, not the head {head}: "
            "the approval does not count"
        )
        hint = f"{who} must approve the latest commit"
        return [_finding("stale-approval", where, message, hint, severity=Severity.WARNING)]
    if review.association not in WITH_ACCESS:
        message = (
            f"{who} approved but is not a member or collaborator of the repository "
            f"(author_association {review.association}): the approval does not count"
        )
        return [_finding("outside-approval", where, message, severity=Severity.WARNING)]
    return []


def _conflicts(policy: PolicyInput, review: Review, where: Location) -> Iterator[Finding]:
    login = (review.reviewer or "").casefold()
    if login == policy.pr.author.casefold():
        yield _finding(
            "self-approval",
            where,
            f"{review.reviewer} approved their own pull request #{policy.pr.number} "
            f"(review {review.id})",
            "an author's approval never counts: someone else must approve",
        )
    for conflict in policy.conflicts:
        if conflict.login.casefold() == login:
            identity = "" if conflict.identity == conflict.login else f" as {conflict.identity}"
            yield _finding(
                "trainer-approval",
                where,
                f"{review.reviewer} approved {conflict.adapter}, which they "
                f"{conflict.role}{identity}",
                "whoever trains or signs an adapter must not approve its release: "
                "someone else must approve",
                (conflict.location,),
            )


def _names(reviews: Sequence[Review]) -> str:
    return ", ".join(review.reviewer or "?" for review in reviews) or "none"


def _approval_count(policy: PolicyInput, approvers: Sequence[Review]) -> list[Finding]:
    needed, location = _required(policy)
    if len(approvers) >= needed:
        return []
    plural = "approval is" if needed == 1 else "approvals are"
    found = f"found {len(approvers)}: {_names(approvers)}" if approvers else "found none"
    return [
        _finding(
            "approvals",
            location,
            f"{needed} {plural} needed on the head {short(policy.pr.head_sha)}, {found}",
            "an approval counts when it is on the head commit, by a member or collaborator "
            "other than the author and the adapter's trainer or signer",
        )
    ]


def _required(policy: PolicyInput) -> tuple[int, Location]:
    if not policy.environments:
        return DEFAULT_APPROVALS, Location(policy.pr_file, path=("head", "sha"))
    strictest = max(policy.environments, key=lambda env: env.promotion.required_approvals)
    location = Location(strictest.path, path=("promotion", "required_approvals"))
    return strictest.promotion.required_approvals, location


def _code_owners(
    policy: PolicyInput, approvers: Sequence[Review], unknown: set[str]
) -> Iterator[Finding]:
    """Unapproved paths; the teams they need go into ``unknown`` to be checked."""
    written = " under the CODEOWNERS this pull request writes"
    rule_sets = [
        (policy.owners, policy.owners_file, ""),
        (policy.pr_owners, policy.pr_owners_file, written),
    ]
    for path in sorted(set(policy.paths)):
        reported: set[tuple[str, ...]] = set()
        for owners, owners_file, which in rule_sets:
            rule = None if owners is None else owners.owners_for(path)
            if rule is None or not rule.owners or rule.owners in reported:
                continue
            if _approved_by(policy.teams, approvers, rule.owners):
                continue
            reported.add(rule.owners)
            unknown.update(team for team in rule.owners if _is_team(team))
            yield _owner_finding(
                policy, path, rule, approvers, Location(owners_file, rule.line), which
            )


def _owner_finding(
    policy: PolicyInput,
    path: str,
    rule: Rule,
    approvers: Sequence[Review],
    where: Location,
    which: str,
) -> Finding:
    return _finding(
        "code-owners",
        Location(path),
        f"no code owner approved this change{which}: it needs {' or '.join(rule.owners)} "
        f"(approvals that count: {_names(approvers)})",
        f"{_one_of(rule.owners)} must approve the head {short(policy.pr.head_sha)}",
        (where,),
    )


def _approver_teams(
    policy: PolicyInput, approvers: Sequence[Review], unknown: set[str]
) -> Iterator[Finding]:
    for env in policy.environments:
        teams = env.promotion.approver_teams
        if not teams or _approved_by(policy.teams, approvers, teams):
            continue
        unknown.update(teams)
        yield _finding(
            "approver-teams",
            Location(env.path, path=("promotion", "approver_teams")),
            f"changes to environments/{env.name}/ need an approval from "
            f"{' or '.join(teams)} (approvals that count: {_names(approvers)})",
            f"{_one_of(teams)} must approve the head {short(policy.pr.head_sha)}",
        )


def _unknown_teams(policy: PolicyInput, teams: set[str]) -> Iterator[Finding]:
    for team in sorted({team.casefold(): team for team in sorted(teams)}.values()):
        if not policy.teams.knows(team):
            yield _finding(
                "unknown-team",
                Location(policy.teams_file),
                f"{team} is not listed under teams: approvals by its members are not recognised",
                f"add {team} and its members' GitHub logins to {policy.teams_file}",
                severity=Severity.WARNING,
            )


def _one_of(owners: Sequence[str]) -> str:
    """``@alice or a member of @org/team``: who may approve."""
    return " or ".join(_describe(owner) for owner in owners)


def _describe(owner: str) -> str:
    return f"a member of {owner}" if _is_team(owner) else owner


def _is_team(owner: str) -> bool:
    return owner.startswith("@") and "/" in owner


def _approved_by(teams: Teams, approvers: Sequence[Review], owners: Sequence[str]) -> bool:
    return any(
        _is_owner(teams, review.reviewer or "", owner) for review in approvers for owner in owners
    )


def _is_owner(teams: Teams, login: str, owner: str) -> bool:
    """Whether ``login`` is ``owner``: that user, a member of that team, or the GitHub
    login that ``people`` gives for that e-mail address."""
    if _is_team(owner):
        return login.casefold() in teams.members(owner)
    if owner.startswith("@"):
        return owner[1:].casefold() == login.casefold()
    mapped = teams.login_of(owner)
    return mapped is not None and mapped.casefold() == login.casefold()
