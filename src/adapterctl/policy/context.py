"""The policy gate's input: the recorded pull request, and the policy of its target branch.

Rules (CODEOWNERS, teams.yaml, each touched environment's ``promotion``) come from
``--base-ref`` when given, else from the working tree, in which case a pull request that
changes one of them is refused (it could approve itself). A pull request that changes
CODEOWNERS is judged by the target branch's rules and by the ones it writes. Trainers come
from revision manifests: the target branch's copy when it has one (a pull request cannot
rewrite who trained an existing revision), else the pull request's (a new revision).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from adapterctl import codeowners, layout
from adapterctl.errors import InputError
from adapterctl.findings import Finding, Location, Severity
from adapterctl.gates.policy import Conflict, EnvironmentRules, PolicyInput
from adapterctl.model import AdapterRevision, Environment
from adapterctl.model.kinds import Kind
from adapterctl.model.teams import Teams
from adapterctl.policy.changed import changed_files
from adapterctl.policy.github import (
    ChangedFile,
    PullRequest,
    Review,
    read_files,
    read_pull_request,
    read_reviews,
)
from adapterctl.policy.signers import read_signers
from adapterctl.policy.sources import (
    GitRef,
    PolicySource,
    WorkTree,
    open_ref,
    read_codeowners,
    read_file,
    read_model,
)

TEAMS_FILE = "teams.yaml"
_BUNDLE = re.compile(r"adapters/([^/]+)/([^/]+)\.sigstore\.json")
FILES_HINT = (
    "record every page: gh api --paginate --slurp repos/OWNER/REPO/pulls/NUMBER/files "
    "(GitHub lists at most 3000 files), or leave out --files to read the changes from git"
)


@dataclass(frozen=True)
class Request:
    """What the command line names."""

    root: Path
    pr: Path
    reviews: Path
    files: Path | None = None
    teams: Path | None = None
    signers: Path | None = None
    base_ref: str | None = None


@dataclass(frozen=True)
class Prepared:
    policy: PolicyInput
    findings: tuple[Finding, ...]
    """Problems with the inputs themselves (untrusted policy, an incomplete file list...)."""
    checked: tuple[str, ...]


def prepare(request: Request) -> Prepared:
    """Read every input and the policy that applies; raises for unusable inputs."""
    pr = read_pull_request(request.pr, str(request.pr))
    reviews = read_reviews(request.reviews, str(request.reviews))
    files = _files(request, pr)
    base = open_ref(request.root, request.base_ref) if request.base_ref else None
    try:
        return _Builder(request, pr, files, WorkTree(request.root), base).build(reviews)
    finally:
        if base is not None:
            base.repo.repo.close()  # its persistent git cat-file processes


def _files(request: Request, pr: PullRequest) -> tuple[ChangedFile, ...]:
    if request.files is None:
        return changed_files(request.root, pr)
    return read_files(request.files, str(request.files))


@dataclass
class _Builder:
    request: Request
    pr: PullRequest
    files: tuple[ChangedFile, ...]
    head: WorkTree
    base: GitRef | None
    findings: list[Finding] = field(default_factory=list)
    from_work_tree: list[str] = field(default_factory=list)
    """Policy files that were read from the working tree."""

    @property
    def rules(self) -> PolicySource:
        return self.base or self.head

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(sorted({path for file in self.files for path in file.paths}))

    def build(self, reviews: tuple[Review, ...]) -> Prepared:
        owners = read_codeowners(self.rules)
        owners_file = owners[0] if owners else "CODEOWNERS"
        for path in codeowners.LOCATIONS:  # adding or deleting one changes which applies
            self._used(path)
        if owners is None:
            self._no_codeowners()
        written = self._written_owners()
        teams, teams_file = self._teams()
        environments, promoted = self._environments()
        conflicts = self._conflicts(teams, teams_file, promoted | self._revisions())
        self.findings += self._untrusted() + self._incomplete()
        policy = PolicyInput(
            pr=self.pr,
            reviews=reviews,
            paths=self.paths,
            pr_file=str(self.request.pr),
            reviews_file=str(self.request.reviews),
            owners=owners[1] if owners else None,
            owners_file=owners_file,
            teams=teams,
            teams_file=teams_file,
            environments=environments,
            conflicts=conflicts,
            pr_owners=written[1] if written else None,
            pr_owners_file=written[0] if written else "CODEOWNERS",
        )
        return Prepared(policy, tuple(self.findings), self.paths)

    def _used(self, path: str) -> None:
        if self.base is None:
            self.from_work_tree.append(path)

    def _written_owners(self) -> tuple[str, codeowners.CodeOwners] | None:
        """The CODEOWNERS this pull request writes, when it changes one and the rules come
        from the target branch: the owners it names must approve as well as the old ones."""
        if self.base is None or not set(codeowners.LOCATIONS) & set(self.paths):
            return None
        return read_codeowners(self.head)

    def _no_codeowners(self) -> None:
        message = f"no CODEOWNERS file in {self.rules.label}: code owners are not checked"
        self.findings.append(_warning("no-codeowners", Location("CODEOWNERS"), message))

    def _teams(self) -> tuple[Teams, str]:
        if self.request.teams is not None:
            path = self.request.teams
            return read_file(path, str(path), Teams), str(path)
        self._used(TEAMS_FILE)
        return read_model(self.rules, TEAMS_FILE, Teams) or Teams(), TEAMS_FILE

    def _environments(self) -> tuple[tuple[EnvironmentRules, ...], set[tuple[str, str]]]:
        """The rules of each touched environment, and the revisions it gives more traffic."""
        rules: list[EnvironmentRules] = []
        promoted: set[tuple[str, str]] = set()
        for name in _environment_names(self.paths):
            path = layout.environment_path(name)
            before = read_model(self.base, path, Environment) if self.base else None
            after = read_model(self.head, path, Environment)
            self._used(path)
            governing = before or after  # a new environment: the rules it declares
            if governing is not None:
                rules.append(EnvironmentRules(name, path, governing.promotion))
            promoted |= _promoted(after, before)
        return tuple(rules), promoted

    def _revisions(self) -> set[tuple[str, str]]:
        """Revisions whose manifest or signature bundle the pull request adds or edits."""
        touched: set[tuple[str, str]] = set()
        for file in self.files:
            if file.status == "removed":
                continue
            placement = layout.classify(file.filename)
            bundle = _BUNDLE.fullmatch(file.filename)
            if placement and placement.kind is Kind.ADAPTER_REVISION and placement.item:
                touched.add((placement.name, placement.item))
            elif bundle:
                touched.add((bundle[1], bundle[2]))
        return touched

    def _conflicts(
        self, teams: Teams, teams_file: str, revisions: set[tuple[str, str]]
    ) -> tuple[Conflict, ...]:
        """Who trained or signed the touched revisions, by GitHub login."""
        signers = read_signers(self.request.signers)
        roles: list[Conflict] = []
        for name, version in sorted(revisions):
            adapter = f"{name}@{version}"
            trainer = self._trainer(name, version)
            if trainer:
                roles.append(Conflict("", trainer, "trained", adapter, _trained_by(name, version)))
            location = Location(str(self.request.signers), path=(adapter,))
            roles += [
                Conflict("", who, "signed", adapter, location) for who in signers.of(name, version)
            ]
        mapped = (self._login(teams, teams_file, role) for role in roles)
        return tuple(conflict for conflict in mapped if conflict is not None)

    def _login(self, teams: Teams, teams_file: str, role: Conflict) -> Conflict | None:
        login = teams.login_of(role.identity)
        if login is not None:
            return replace(role, login=login)
        message = (
            f"{role.identity} ({role.role} {role.adapter}) has no GitHub login under people in "
            f"{teams_file}: an approval by them would not be noticed"
        )
        hint = f"add '{role.identity}: LOGIN' under people in {teams_file}"
        self.findings.append(_warning("unmapped-identity", role.location, message, hint))
        return None

    def _trainer(self, name: str, version: str) -> str | None:
        path = layout.revision_path(name, version)
        try:
            manifest = read_model(self.base, path, AdapterRevision) if self.base else None
            manifest = manifest or read_model(self.head, path, AdapterRevision)
        except InputError as exc:
            manifest, problem = None, exc.message
        else:
            places = f"{self.base.label} or the working tree" if self.base else "the working tree"
            problem = f"{path} is not in {places}"
        if manifest is None:
            message = f"cannot tell who trained {name}@{version}: {problem}"
            self.findings.append(_error("unknown-trainer", Location(path), message))
            return None
        return manifest.training.trained_by

    def _untrusted(self) -> list[Finding]:
        hint = (
            f"pass --base-ref (the target branch, e.g. origin/{self.pr.base_ref}) to read "
            "the policy from there"
        )
        return [
            _error(
                "untrusted-policy",
                Location(path),
                f"this pull request changes {path}, and the policy was read from the working "
                "tree: the change could approve itself",
                hint,
            )
            for path in sorted(set(self.from_work_tree) & set(self.paths))
        ]

    def _incomplete(self) -> list[Finding]:
        listed, total = len(self.files), self.pr.changed_files
        if self.request.files is None or total is None or total <= listed:
            return []
        files = "1 changed file" if listed == 1 else f"{listed} changed files"
        message = f"lists {files}, but the pull request changes {total}: the list is incomplete"
        return [_error("incomplete-files", Location(str(self.request.files)), message, FILES_HINT)]


def _environment_names(paths: tuple[str, ...]) -> list[str]:
    parts = (path.split("/") for path in paths)
    return sorted({p[1] for p in parts if len(p) >= 3 and p[0] == "environments"})


def _promoted(after: Environment | None, before: Environment | None) -> set[tuple[str, str]]:
    """Revisions that get more traffic in ``after`` than in ``before`` (or than nothing)."""
    if after is None:
        return set()
    old = {
        (alias, route.key): route.weight
        for alias, routes in (before.routes.items() if before else ())
        for route in routes
    }
    return {
        (alias, route.key)
        for alias, routes in after.routes.items()
        for route in routes
        if route.weight > old.get((alias, route.key), 0)
    }


def _trained_by(name: str, version: str) -> Location:
    return Location(layout.revision_path(name, version), path=("training", "trained_by"))


def _error(rule: str, location: Location, message: str, hint: str | None = None) -> Finding:
    return Finding(f"policy/{rule}", Severity.ERROR, location, message, hint)


def _warning(rule: str, location: Location, message: str, hint: str | None = None) -> Finding:
    return Finding(f"policy/{rule}", Severity.WARNING, location, message, hint)
