#!/usr/bin/env bash
# The golden and pressure gates of every revision a pull request adds or edits, against the
# vLLM server of start-vllm.sh: load the candidate (its baseline was loaded at start), then
# `adapterctl eval` (HTML report and evidence under reports/golden/) and `adapterctl
# pressure` with each profile of GOLDEN_ENV (evidence under reports/pressure/).
#
# Env: BASE_REF, HEAD_SHA (default HEAD), GOLDEN_ENV (staging), VLLM_PORT (8000).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

env_name=${GOLDEN_ENV:-staging}
endpoint="http://127.0.0.1:${VLLM_PORT:-8000}/v1"
tmp=$(scratch)
mkdir -p reports/golden reports/pressure

# load REVISION: check the stored artifact, then POST /v1/load_lora_adapter under its
# immutable served name. 400 "already been loaded" is fine: eval checks the root it serves.
load() {
    local revision=$1 path body code
    adapterctl check "$revision" --env "$env_name" >&2
    path=$(python3 scripts/revision-path.py "$revision")
    body=$(python3 -c 'import json, sys; print(json.dumps({"lora_name": sys.argv[1], "lora_path": sys.argv[2], "load_inplace": False}))' "$revision" "$path")
    code=$(curl -sS -o "$tmp/load.out" -w '%{http_code}' -X POST "$endpoint/load_lora_adapter" \
        -H 'Content-Type: application/json' --data "$body")
    if [ "$code" = 200 ] || { [ "$code" = 400 ] && grep -q 'already been loaded' "$tmp/load.out"; }; then
        return 0
    fi
    note "load of $revision failed: HTTP $code $(head -c 500 "$tmp/load.out")"
    return 1
}

listed=$(python3 scripts/changed-revisions.py "origin/${BASE_REF:?}" "${HEAD_SHA:-HEAD}")
if [ -z "$listed" ]; then
    note "golden: the pull request adds or edits no adapter revision."
    exit 0
fi
mapfile -t revisions <<<"$listed"
shopt -s nullglob
profiles=("environments/$env_name/pressure/"*.yaml)
status=0
for revision in "${revisions[@]}"; do
    load "$revision" || {
        status=1
        continue
    }
    report "Golden gate: $revision" adapterctl eval "$revision" --env "$env_name" \
        --endpoint "$endpoint" --html "reports/golden/$revision.html" \
        --evidence "reports/golden/$revision.json" || status=1
    for profile in "${profiles[@]}"; do
        name=$(basename "$profile" .yaml)
        report "Pressure gate: $revision, $name" adapterctl pressure "$revision" \
            --env "$env_name" --endpoint "$endpoint" --profile "$name" \
            --evidence "reports/pressure/$revision.$name.json" || status=1
    done
done
exit "$status"
