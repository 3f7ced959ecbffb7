"""The policy gate's rules on small, hand-made pull requests (no files, no git)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from adapterctl.codeowners import parse_codeowners
from adapterctl.findings import Finding, Location
from adapterctl.gates.policy import Conflict, EnvironmentRules, PolicyInput, check
from adapterctl.model.environment import Promotion
from adapterctl.model.teams import Teams
from adapterctl.policy.github import ChangedFile, PullRequest, Review, read_reviews

HEAD = "b" * 40
OLD = "a" * 40
PR = PullRequest(42, "mia-ml", HEAD, "c" * 40, "main", "Promote", 1)
TEAMS = Teams.model_validate(
    {
        "teams": {"@org/ml": ["noah-ml", "Mia-ML"], "@org/release": ["rita"]},
        "people": {"Rita@Example.Internal": "rita"},
    }
)
OWNERS = parse_codeowners(
    "*  @org/ml\n/environments/prod/  @org/release\n/docs/  rita@example.internal\n"
    "/scripts/  @Rita\n/vendor/\n/ops/  @org/unknown\n"
)


def _review(
    login: str | None,
    state: str = "APPROVED",
    commit: str | None = HEAD,
    minute: int = 0,
    association: str = "MEMBER",
) -> Review:
    when = datetime.fromisoformat(f"2026-11-24T10:{minute:02d}:00+00:00")
    return Review(minute, login, state, commit, when, association, (minute,))


def _check(
    reviews: list[Review],
    paths: tuple[str, ...] = ("adapters/x/adapter.yaml",),
    environments: tuple[EnvironmentRules, ...] = (),
    conflicts: tuple[Conflict, ...] = (),
) -> list[Finding]:
    policy = PolicyInput(
        PR,
        tuple(reviews),
        paths,
        "pr.json",
        "reviews.json",
        OWNERS,
        "CODEOWNERS",
        TEAMS,
        "teams.yaml",
        environments,
        conflicts,
    )
    return check(policy)


def _rules(findings: list[Finding]) -> list[str]:
    return sorted(finding.rule for finding in findings)


def test_one_approval_on_the_head_by_a_code_owner_passes() -> None:
    assert _check([_review("noah-ml")]) == []


def test_comment_after_approval_keeps_the_approval() -> None:
    assert _check([_review("noah-ml"), _review("noah-ml", "COMMENTED", minute=5)]) == []


def test_dismissed_approval_does_not_count() -> None:
    findings = _check([_review("noah-ml"), _review("noah-ml", "DISMISSED", minute=5)])
    assert _rules(findings) == ["policy/approvals", "policy/code-owners"]


def test_approval_after_changes_requested_counts() -> None:
    reviews = [
        _review("noah-ml"),
        _review("noah-ml", "CHANGES_REQUESTED", minute=3),
        _review("noah-ml", minute=6),
    ]
    assert _check(reviews) == []


def test_pending_reviews_and_deleted_accounts_are_ignored() -> None:
    reviews = [_review(None), _review("rita", "PENDING", minute=1), _review("noah-ml", minute=2)]
    assert _check(reviews) == []


def test_logins_are_case_insensitive() -> None:
    findings = _check([_review("MIA-ml")])
    assert _rules(findings) == ["policy/approvals", "policy/code-owners", "policy/self-approval"]
    assert findings[0].message == "MIA-ml approved their own pull request #42 (review 0)"


def test_outside_approval_does_not_count() -> None:
    findings = _check([_review("noah-ml", association="CONTRIBUTOR")])
    assert _rules(findings) == ["policy/approvals", "policy/code-owners", "policy/outside-approval"]
    assert findings[0].message == (
        "noah-ml approved but is not a member or collaborator of the repository "
        "(author_association CONTRIBUTOR): the approval does not count"
    )


def test_stale_approval_by_a_code_owner() -> None:
    findings = _check([_review("noah-ml", commit=OLD)])
    assert [(f.rule, f.severity.value, f.message) for f in findings] == [
        (
            "policy/stale-approval",
            "warning",
            "noah-ml approved aaaaaaa, not the head bbbbbbb: the approval does not count",
        ),
        ("policy/approvals", "error", "1 approval is needed on the head bbbbbbb, found none"),
        (
            "policy/code-owners",
            "error",
            "no code owner approved this change: it needs @org/ml (approvals that count: none)",
        ),
    ]


def test_review_on_a_garbage_collected_commit_is_stale() -> None:
    findings = _check([_review("noah-ml", commit=None)])
    assert findings[0].message == (
        "noah-ml approved an unknown commit, not the head bbbbbbb: the approval does not count"
    )


@pytest.mark.parametrize(
    ("path", "approver"),
    [("docs/a.md", "rita"), ("scripts/x.sh", "rita"), ("vendor/lib.py", "anyone")],
    ids=["email-owner-via-people", "user-owner", "explicitly-unowned"],
)
def test_owner_kinds(path: str, approver: str) -> None:
    assert _check([_review(approver)], paths=(path,)) == []


def test_rename_needs_the_owners_of_both_paths() -> None:
    renamed = ChangedFile("adapters/x/adapter.yaml", "renamed", "environments/prod/x.yaml")
    findings = _check([_review("noah-ml")], paths=renamed.paths)
    assert [(f.rule, f.location.file) for f in findings] == [
        ("policy/code-owners", "environments/prod/x.yaml")
    ]


def test_prod_needs_the_approver_team_and_enough_approvals() -> None:
    prod = EnvironmentRules(
        "prod",
        "environments/prod/environment.yaml",
        Promotion(required_approvals=2, approver_teams=("@org/release",)),
    )
    findings = _check([_review("noah-ml")], ("environments/prod/environment.yaml",), (prod,))
    assert [(f.rule, str(f.location), f.message) for f in findings] == [
        (
            "policy/approvals",
            "environments/prod/environment.yaml $.promotion.required_approvals",
            "2 approvals are needed on the head bbbbbbb, found 1: noah-ml",
        ),
        (
            "policy/code-owners",
            "environments/prod/environment.yaml",
            "no code owner approved this change: it needs @org/release "
            "(approvals that count: noah-ml)",
        ),
        (
            "policy/approver-teams",
            "environments/prod/environment.yaml $.promotion.approver_teams",
            "changes to environments/prod/ need an approval from @org/release "
            "(approvals that count: noah-ml)",
        ),
    ]
    assert _check([_review("noah-ml"), _review("rita", minute=1)], (prod.path,), (prod,)) == []


def test_unknown_team_is_reported_once() -> None:
    ops = EnvironmentRules(
        "ops", "environments/ops/environment.yaml", Promotion(approver_teams=("@org/unknown",))
    )
    findings = _check([_review("noah-ml")], ("ops/run.sh",), (ops,))
    assert _rules(findings) == [
        "policy/approver-teams",
        "policy/code-owners",
        "policy/unknown-team",
    ]
    unknown = next(f for f in findings if f.rule == "policy/unknown-team")
    assert (str(unknown.location), unknown.message, unknown.hint) == (
        "teams.yaml",
        "@org/unknown is not listed under teams: approvals by its members are not recognised",
        "add @org/unknown and its members' GitHub logins to teams.yaml",
    )


def test_trainer_and_signer_conflicts_are_each_reported() -> None:
    trained = Conflict(
        "noah-ml", "noah@example.internal", "trained", "x@1.0.0", Location("adapters/x/1.0.0.yaml")
    )
    signed = Conflict("noah-ml", "noah-ml", "signed", "x@1.0.0", Location("signers.yaml"))
    findings = _check([_review("noah-ml"), _review("rita", minute=1)], conflicts=(trained, signed))
    assert [f.message for f in findings if f.rule == "policy/trainer-approval"] == [
        "noah-ml approved x@1.0.0, which they trained as noah@example.internal",
        "noah-ml approved x@1.0.0, which they signed",
    ]


def test_reviews_are_read_in_submission_order(tmp_path: Path) -> None:
    """Pages merged by hand out of order: the latest submitted review still wins."""
    review = {"user": {"login": "noah-ml"}, "commit_id": HEAD, "author_association": "MEMBER"}
    later = {
        **review,
        "id": 2,
        "state": "CHANGES_REQUESTED",
        "submitted_at": "2026-11-24T11:00:00Z",
    }
    earlier = {**review, "id": 1, "state": "APPROVED", "submitted_at": "2026-11-24T10:00:00Z"}
    file = tmp_path / "reviews.json"
    file.write_text(json.dumps([[later], [earlier]]))
    reviews = read_reviews(file, "reviews.json")
    assert [(r.id, r.where) for r in reviews] == [(1, (1, 0)), (2, (0, 0))]
    assert _rules(_check(list(reviews))) == [
        "policy/approvals",
        "policy/changes-requested",
        "policy/code-owners",
    ]


def test_changes_requested_by_an_outsider_does_not_block() -> None:
    reviews = [
        _review("noah-ml"),
        _review("eve", "CHANGES_REQUESTED", minute=1, association="NONE"),
    ]
    assert _check(reviews) == []
