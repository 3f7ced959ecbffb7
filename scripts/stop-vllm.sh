#!/usr/bin/env bash
# Stop the vLLM server that start-vllm.sh started (its whole process group), whatever
# state it is in: TERM, then KILL after VLLM_STOP_GRACE seconds (default 30).
set -euo pipefail

state=${RUNNER_TEMP:-/tmp}/vllm
if [ ! -f "$state/pid" ]; then
    echo "no vLLM was started"
    exit 0
fi
pid=$(cat "$state/pid")
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "${VLLM_STOP_GRACE:-30}"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -f "$state/pid"
echo "vLLM (pid $pid) stopped"
