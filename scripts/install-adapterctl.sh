#!/usr/bin/env bash
# Install adapterctl from this checkout into a virtual environment outside the work tree and
# put it on the PATH of the job's later steps. Env: ADAPTERCTL_PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${RUNNER_TEMP:-/tmp}/adapterctl-venv
"${ADAPTERCTL_PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet .
if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$venv/bin" >>"$GITHUB_PATH"
fi
"$venv/bin/adapterctl" --help >/dev/null
echo "adapterctl installed in $venv"
