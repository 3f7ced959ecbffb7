#!/usr/bin/env bash
# The pull-request gates, one per call, each report also in $GITHUB_STEP_SUMMARY:
#
#   scripts/ci-gates.sh validate|check|verify|policy|verify-commit
#
# Env: BASE_REF (the target branch, e.g. main; compared as origin/BASE_REF), HEAD_SHA (the
# pull request's head, default HEAD); for verify: ADAPTERCTL_TRUST_BUNDLE; for policy:
# PR_NUMBER, GITHUB_REPOSITORY, GH_TOKEN, optional ADAPTERCTL_TEAMS; for verify and policy,
# optional SIGNERS_FILE (verify writes who signed each revision there, policy reads it
# with --signers and refuses to judge without it); for verify-commit:
# ADAPTERCTL_ALLOWED_SIGNERS, optional ADAPTERCTL_GITHUB_WEB_FLOW_KEY. Trust anchors come
# from the repository's variables or secrets, never from the pull request's files.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

base="origin/${BASE_REF:?BASE_REF: the target branch of the pull request}"
head=${HEAD_SHA:-HEAD}
tmp=$(scratch)

gate_validate() {
    report "Schema and cross references (validate)" adapterctl validate --against "$base"
}

gate_check() {
    report "Integrity and compat (check)" adapterctl check --changed --against "$base"
}

gate_verify() {
    local listed trust
    local -a revisions
    local -a out=()
    verify_merged_bases
    listed=$(python3 scripts/changed-revisions.py "$base" "$head" --promoted)
    if [ -z "$listed" ]; then
        note "verify: the pull request adds, edits or promotes no adapter revision."
        if [ -n "${SIGNERS_FILE:-}" ]; then
            echo "{}" >"$SIGNERS_FILE"
        fi
        return 0
    fi
    if [ -n "${SIGNERS_FILE:-}" ]; then
        out=(--signers-out "$SIGNERS_FILE")
    fi
    mapfile -t revisions <<<"$listed"
    if ! trust=$(trust_file); then
        note "verify: ADAPTERCTL_TRUST_BUNDLE is not set (a repository variable or secret); \
cannot verify ${revisions[*]}. See docs/workflows.md."
        return 1
    fi
    report "Artifact signatures (verify)" adapterctl verify "${revisions[@]}" --trust "$trust" \
        "${out[@]}"
}

# A merged base the pull request adds is signed like any artifact (docs/bases.md).
verify_merged_bases() {
    local listed trust
    local -a bases
    listed=$(python3 scripts/changed-revisions.py "$base" "$head" --merged-bases)
    if [ -z "$listed" ]; then
        return 0
    fi
    mapfile -t bases <<<"$listed"
    if ! trust=$(trust_file); then
        note "verify: ADAPTERCTL_TRUST_BUNDLE is not set; cannot verify ${bases[*]}."
        return 1
    fi
    report "Merged base signatures (verify --base)" adapterctl verify --base "${bases[@]}" \
        --trust "$trust"
}

gate_policy() {
    local api="repos/${GITHUB_REPOSITORY:?}/pulls/${PR_NUMBER:?}"
    local -a extra=()
    gh api "$api" >"$tmp/pr.json"
    gh api --paginate --slurp "$api/reviews" >"$tmp/reviews.json"
    gh api --paginate --slurp "$api/files" >"$tmp/files.json"
    if write_anchor ADAPTERCTL_TEAMS "$tmp/teams.yaml" >/dev/null; then
        extra+=(--teams "$tmp/teams.yaml")
    fi
    if [ -n "${SIGNERS_FILE:-}" ]; then
        if [ ! -f "$SIGNERS_FILE" ]; then
            note "policy: no signer identities from the verify job ($SIGNERS_FILE is missing): \
separation of duties cannot tell whether an approver signed a revision."
            return 1
        fi
        extra+=(--signers "$SIGNERS_FILE")
    fi
    report "Separation of duties (policy check)" adapterctl policy check \
        --pr "$tmp/pr.json" --reviews "$tmp/reviews.json" --files "$tmp/files.json" \
        --base-ref "$base" "${extra[@]}"
}

gate_verify_commit() {
    local signed signers
    local -a args
    signed=$(python3 scripts/changed-environments.py "$base" "$head" --signed-only --lines)
    if [ -z "$signed" ]; then
        note "verify-commit: no environment that requires signed commits is changed."
        return 0
    fi
    if ! signers=$(write_anchor ADAPTERCTL_ALLOWED_SIGNERS "$tmp/allowed_signers"); then
        note "verify-commit: ADAPTERCTL_ALLOWED_SIGNERS is not set; $signed require signed \
commits. See docs/workflows.md."
        return 1
    fi
    args=(--allowed-signers "$signers")
    if write_anchor ADAPTERCTL_GITHUB_WEB_FLOW_KEY "$tmp/web-flow.gpg" >/dev/null; then
        args+=(--github-web-flow "$tmp/web-flow.gpg")
    fi
    report "Signed commits (verify-commit)" adapterctl verify-commit "$base..$head" "${args[@]}"
}

case "${1:-}" in
validate) gate_validate ;;
check) gate_check ;;
verify) gate_verify ;;
policy) gate_policy ;;
verify-commit) gate_verify_commit ;;
*)
    echo "usage: $0 validate|check|verify|policy|verify-commit" >&2
    exit 2
    ;;
esac
