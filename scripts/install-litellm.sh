#!/usr/bin/env bash
# Install LiteLLM's proxy into its own virtual environment (default .venv-litellm): the
# tests run `render --target litellm` output on it, and bench/gateway.py measures it.
# LiteLLM pins its own fastapi, pydantic and openai, so it does not share .venv.
#
# Idempotent: a finished install leaves VENV/.installed-litellm-VERSION.
# Env: LITELLM_VENV (default .venv-litellm), LITELLM_VERSION (1.108.7), PYTHON (python3).
# Exit 0 installed (or already), 1 failed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${LITELLM_VENV:-.venv-litellm}
version=${LITELLM_VERSION:-1.108.7}
stamp="$venv/.installed-litellm-$version"

if [ -f "$stamp" ]; then
    echo "litellm[proxy]==$version already installed in $venv"
    exit 0
fi
started=$SECONDS
echo "installing litellm[proxy]==$version into $venv"
test -x "$venv/bin/python" || "${PYTHON:-python3}" -m venv "$venv"
# pip prints a warning for every package missing from the machine's local indexes: noise.
"$venv/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
# prometheus-client: its Prometheus callback (on in `render --target litellm`) needs it.
"$venv/bin/python" -m pip install --quiet "litellm[proxy]==$version" "prometheus-client>=0.21" 2>&1 |
    grep -v "^WARNING: Location" || true
# Offline: its bundled cost map, not one fetched from GitHub at import.
LITELLM_LOCAL_MODEL_COST_MAP=True "$venv/bin/python" -c "import litellm.proxy.proxy_server" ||
    { echo "litellm[proxy]==$version did not install" >&2; exit 1; }
"$venv/bin/python" -c "import prometheus_client" ||
    { echo "prometheus-client did not install into $venv" >&2; exit 1; }
touch "$stamp"
echo "installed litellm[proxy]==$version into $venv in $((SECONDS - started)) s"
