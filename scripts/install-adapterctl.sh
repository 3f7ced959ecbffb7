#!/usr/bin/env bash
# Install adapterctl from this checkout into a virtual environment outside the work tree and
# put it on the PATH of the job's later steps. Env: ADAPTERCTL_PYTHON (default python3),
# ADAPTERCTL_EXTRAS (extras to add), BASE_REF and HEAD_SHA (a pull request's: the serve
# extra when it adds a merged base).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${RUNNER_TEMP:-/tmp}/adapterctl-venv
"${ADAPTERCTL_PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet .
# A pull request that adds a merged base needs the serve extra (torch, transformers, peft)
# for the equivalence gate in `check --changed` (docs/bases.md); ADAPTERCTL_EXTRAS names
# extras outright.
extras=${ADAPTERCTL_EXTRAS:-}
if [ -z "$extras" ] && [ -n "${BASE_REF:-}" ]; then
    merged=$("$venv/bin/python" scripts/changed-revisions.py "origin/$BASE_REF" \
        "${HEAD_SHA:-HEAD}" --merged-bases)
    if [ -n "$merged" ]; then
        extras=serve
    fi
fi
if [ -n "$extras" ]; then
    "$venv/bin/python" -m pip install --quiet ".[$extras]"
fi
if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$venv/bin" >>"$GITHUB_PATH"
fi
"$venv/bin/adapterctl" --help >/dev/null
echo "adapterctl installed in $venv"
