#!/usr/bin/env bash
# Start vLLM on loopback for the golden and pressure gates, and wait for /health.
#
# The server arguments come from `adapterctl render --target vllm-args` for GOLDEN_ENV as
# committed on the target branch: --enable-lora, the LoRA limits, the served base name, and
# the revisions GOLDEN_ENV serves (the baselines), read from the file:// store.
#
# Env: VLLM_BASE_MODEL (required: the base weights on this runner), BASE_REF, GOLDEN_ENV
# (default staging), VLLM_PORT (8000), VLLM_BIN (vllm), VLLM_START_TIMEOUT (seconds, 900),
# VLLM_EXTRA_ARGS (more arguments, split on spaces).
set -euo pipefail
cd "$(dirname "$0")/.."

env_name=${GOLDEN_ENV:-staging}
port=${VLLM_PORT:-8000}
state=${RUNNER_TEMP:-/tmp}/vllm
mkdir -p "$state"
: "${VLLM_BASE_MODEL:?VLLM_BASE_MODEL: the base model weights on this runner}"

store=$(python3 scripts/revision-path.py --store-root)
mapfile -d '' -t args < <(
    adapterctl render --env "$env_name" --target vllm-args --format json \
        --ref "origin/${BASE_REF:?}" --adapter-dir "$store" |
        python3 -c 'import json, sys; sys.stdout.write("".join(a + "\0" for a in json.load(sys.stdin)))'
)
[ "${#args[@]}" -gt 0 ] || {
    echo "adapterctl render gave no arguments" >&2
    exit 1
}
read -r -a extra <<<"${VLLM_EXTRA_ARGS:-}"

echo "starting vLLM: ${VLLM_BIN:-vllm} serve $VLLM_BASE_MODEL ${args[*]} ${extra[*]}"
VLLM_ALLOW_RUNTIME_LORA_UPDATING=True setsid "${VLLM_BIN:-vllm}" serve "$VLLM_BASE_MODEL" \
    --host 127.0.0.1 --port "$port" "${args[@]}" "${extra[@]}" >"$state/vllm.log" 2>&1 &
pid=$!
echo "$pid" >"$state/pid"

deadline=$((SECONDS + ${VLLM_START_TIMEOUT:-900}))
until curl -fsS --max-time 5 "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "vLLM exited before it was healthy; the end of its log:" >&2
        tail -n 80 "$state/vllm.log" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "vLLM not healthy after ${VLLM_START_TIMEOUT:-900} s; the end of its log:" >&2
        tail -n 80 "$state/vllm.log" >&2
        exit 1
    fi
    sleep 5
done
echo "vLLM healthy on 127.0.0.1:$port (pid $pid)"
