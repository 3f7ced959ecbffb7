#!/usr/bin/env bash
# `adapterctl promote REVISION --env ENVIRONMENT [--weight W | --finish] [--tenant T…] [--sign]
# --push`
# from the promote workflow: a branch promote/ENV/NAME-VERSION and its pull request.
#
# Env: REVISION, ENVIRONMENT, WEIGHT (empty or 1-99), FINISH (true/false), TENANTS (canary
# tenants, space-separated), ADAPTERCTL_PROMETHEUS_URL (the canary analysis), GITHUB_TOKEN
# (push and the pull request), optional PROMOTE_SSH_SIGNING_KEY (an SSH private key: the
# commit is then signed), PROMOTE_GIT_NAME / PROMOTE_GIT_EMAIL (the committer).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

tmp=$(scratch)
[[ "${REVISION:?}" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*@[0-9A-Za-z][0-9A-Za-z.+-]*$ ]] || {
    echo "revision must be NAME@VERSION, got: $REVISION" >&2
    exit 2
}
[[ "${ENVIRONMENT:?}" =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || {
    echo "not an environment name: $ENVIRONMENT" >&2
    exit 2
}
args=("$REVISION" --env "$ENVIRONMENT" --push --body-file "$tmp/pr-body.md")
if [ "${FINISH:-false}" = true ]; then
    args+=(--finish)
fi
if [ -n "${WEIGHT:-}" ]; then
    args+=(--weight "$WEIGHT")
fi
for tenant in ${TENANTS:-}; do
    [[ "$tenant" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || {
        echo "not a tenant name: $tenant" >&2
        exit 2
    }
    args+=(--tenant "$tenant")
done
if [ -z "${ADAPTERCTL_PROMETHEUS_URL:-}" ]; then
    unset ADAPTERCTL_PROMETHEUS_URL # an empty repository variable is no Prometheus
fi

git config user.name "${PROMOTE_GIT_NAME:-github-actions[bot]}"
git config user.email "${PROMOTE_GIT_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}"
if [ -n "${PROMOTE_SSH_SIGNING_KEY:-}" ]; then
    (umask 077 && printf '%s\n' "$PROMOTE_SSH_SIGNING_KEY" >"$tmp/signing_key")
    git config gpg.format ssh
    git config user.signingkey "$tmp/signing_key"
    args+=(--sign)
fi

git_auth "${GITHUB_TOKEN:?}"
status=0
adapterctl promote "${args[@]}" || status=$?
if [ -f "$tmp/pr-body.md" ]; then
    summary <"$tmp/pr-body.md"
fi
rm -f "$tmp/signing_key"
exit "$status"
