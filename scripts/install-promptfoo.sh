#!/usr/bin/env bash
# Install promptfoo, pinned, into a folder of its own (default .promptfoo, git-ignored): the
# export-promptfoo test runs `promptfoo eval` on the exported configs with it, and
# bench/eval.py measures it beside adapterctl (docs/promptfoo.md).
#
# promptfoo 0.123 refuses Node.js older than 22.22.0, so the Node.js it runs on is pinned
# too, from the npm registry's node-<os>-<arch> package, into the same folder: the machine's
# own node and npm only run the install.
#
# Idempotent: a finished install leaves DIR/.installed-promptfoo-VERSION-node-NODE_VERSION.
# Env: PROMPTFOO_DIR (default .promptfoo), PROMPTFOO_VERSION (0.123.1),
#      PROMPTFOO_NODE_VERSION (22.22.0).
# Exit 0 installed (or already), 1 failed, 3 cannot be installed here (no npm, a Node.js too
# old to run npm, or no Node.js package for this OS and CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${PROMPTFOO_DIR:-.promptfoo}
version=${PROMPTFOO_VERSION:-0.123.1}
node_version=${PROMPTFOO_NODE_VERSION:-22.22.0}
stamp="$dir/.installed-promptfoo-$version-node-$node_version"

if [ -f "$stamp" ]; then
    echo "promptfoo $version (Node.js $node_version) already installed in $dir"
    exit 0
fi
cannot() {
    echo "promptfoo cannot be installed here: $*" >&2
    exit 3
}
command -v node >/dev/null || cannot "no node on PATH (npm needs Node.js >= 18.17)"
command -v npm >/dev/null || cannot "no npm on PATH"
host=$(node -p 'process.versions.node')
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 18 || (a === 18 && b >= 17) ? 0 : 1)' ||
    cannot "Node.js $host is too old to run npm (>= 18.17)"
case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) platform=linux-x64 ;;
    Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
    Darwin-x86_64) platform=darwin-x64 ;;
    Darwin-arm64) platform=darwin-arm64 ;;
    *) cannot "no Node.js package on the npm registry for $(uname -s) $(uname -m)" ;;
esac

started=$SECONDS
echo "installing promptfoo $version and Node.js $node_version (node-$platform) into $dir"
mkdir -p "$dir"
# --ignore-scripts: nothing promptfoo runs needs an install script (its native parts are
# prebuilt optional packages), and none may download anything. npm warns that the machine's
# Node.js is below promptfoo's engines: promptfoo runs on the pinned one.
npm install --prefix "$dir" --save-exact --no-audit --no-fund --ignore-scripts --loglevel=error \
    "promptfoo@$version" "node-$platform@$node_version"
node_bin="$dir/node_modules/.bin/node"
entry="$dir/node_modules/promptfoo/dist/src/entrypoint.js"
# A config folder of its own, no telemetry, no update check: --version only reads the package.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
got=$(HOME="$scratch" PROMPTFOO_CONFIG_DIR="$scratch/promptfoo" PROMPTFOO_DISABLE_TELEMETRY=1 \
    PROMPTFOO_DISABLE_UPDATE=1 "$node_bin" "$entry" --version) ||
    { echo "promptfoo $version did not install into $dir" >&2; exit 1; }
[ "$got" = "$version" ] || { echo "$dir has promptfoo $got, not $version" >&2; exit 1; }
touch "$stamp"
echo "installed promptfoo $version (Node.js $node_version) into $dir in $((SECONDS - started)) s"
