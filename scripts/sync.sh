#!/usr/bin/env bash
# Sync one environment's nodes to the desired state at REF (push mode), on a self-hosted
# runner that reaches the nodes. The node configurations, with their trust anchors, are
# the runner's own: $ADAPTERCTL_NODE_CONFIG_DIR/ENVIRONMENT/*.yaml (default
# /etc/adapterctl/nodes), never files from the repository.
#
# A run whose commit a newer commit on BRANCH has superseded for this environment stops
# without syncing: the newer commit's own run applies the newer state, and an older run
# that finishes late must not roll the nodes back.
#
# Env: ENVIRONMENT, REF, BRANCH (default main), GITHUB_TOKEN (to fetch BRANCH).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

env_name=${ENVIRONMENT:?}
ref=${REF:?}
branch=${BRANCH:-main}
dir=${ADAPTERCTL_NODE_CONFIG_DIR:-/etc/adapterctl/nodes}/$env_name
tmp=$(scratch)

shopt -s nullglob
configs=("$dir"/*.yaml "$dir"/*.yml)
if [ "${#configs[@]}" -eq 0 ]; then
    note "sync $env_name: no node configuration in $dir on this runner."
    exit 1
fi

if [ -n "${GITHUB_TOKEN:-}" ]; then
    git_auth "$GITHUB_TOKEN"
fi
git fetch --quiet origin "+refs/heads/$branch:refs/remotes/origin/$branch"
tip=$(git rev-parse "origin/$branch")
if [ "$tip" != "$(git rev-parse "$ref^{commit}")" ] &&
    ! git diff --quiet "$ref" "$tip" -- "environments/$env_name"; then
    note "sync $env_name: ${tip:0:12} on $branch changes this environment again; its run syncs it."
    exit 0
fi

args=()
for config in "${configs[@]}"; do
    args+=(--node-config "$config")
done
status=0
adapterctl sync --env "$env_name" --ref "$ref" "${args[@]}" >"$tmp/sync.txt" 2>&1 || status=$?
cat "$tmp/sync.txt"
{
    printf '### Sync %s at %s\n\n```text\n' "$env_name" "${ref:0:12}"
    cat "$tmp/sync.txt"
    printf '```\n\n'
} | summary
exit "$status"
