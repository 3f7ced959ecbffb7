#!/usr/bin/env bash
# After a push to main: verify the pushed commits where a changed environment requires
# signed commits, and write the changed environments to $GITHUB_OUTPUT as
# `environments=<JSON list>` for the sync matrix.
#
# Env: BEFORE, AFTER (the push's commits), ADAPTERCTL_ALLOWED_SIGNERS, optional
# ADAPTERCTL_GITHUB_WEB_FLOW_KEY.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

tmp=$(scratch)
before=${BEFORE:-}
after=${AFTER:?}
signed=$(python3 scripts/changed-environments.py "$before" "$after" --signed-only --lines)
if [ -n "$signed" ]; then
    signers=$(write_anchor ADAPTERCTL_ALLOWED_SIGNERS "$tmp/allowed_signers") || {
        note "ADAPTERCTL_ALLOWED_SIGNERS is not set; $signed require signed commits."
        exit 1
    }
    args=(--allowed-signers "$signers")
    if write_anchor ADAPTERCTL_GITHUB_WEB_FLOW_KEY "$tmp/web-flow.gpg" >/dev/null; then
        args+=(--github-web-flow "$tmp/web-flow.gpg")
    fi
    if git rev-parse --verify --quiet "$before^{commit}" >/dev/null; then
        range=("--first-parent" "$before..$after")
    else
        range=("$after")
    fi
    report "Signed commits (verify-commit)" adapterctl verify-commit "${range[@]}" "${args[@]}"
fi
environments=$(python3 scripts/changed-environments.py "$before" "$after")
note "Environments to sync: $environments"
echo "environments=$environments" >>"${GITHUB_OUTPUT:-/dev/stdout}"
