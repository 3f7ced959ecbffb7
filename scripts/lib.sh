# shellcheck shell=bash
# Helpers sourced by the scripts that the workflows call; not run on its own.

# Where reports go: the job's step summary, or stdout outside GitHub Actions.
summary() {
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        cat >>"$GITHUB_STEP_SUMMARY"
    else
        cat
    fi
}

# note TEXT: one line in the log and in the step summary.
note() {
    echo "$*" >&2
    printf '%s\n\n' "$*" | summary
}

# report TITLE COMMAND...: run an adapterctl command that takes --format/--output, copy its
# Markdown report into the step summary under TITLE, and return the command's exit status.
report() {
    local title=$1 out status=0
    shift
    out=$(mktemp "${RUNNER_TEMP:-/tmp}/report.XXXXXX")
    "$@" --format markdown --output "$out" || status=$?
    {
        printf '### %s\n\n' "$title"
        cat "$out" 2>/dev/null || true
        printf '\n'
    } | summary
    cat "$out" 2>/dev/null || true
    rm -f "$out"
    return "$status"
}

# scratch: a private folder for this job's temporary files.
scratch() {
    local dir=${RUNNER_TEMP:-/tmp}/adapterctl
    mkdir -p "$dir"
    chmod 700 "$dir"
    printf '%s\n' "$dir"
}

# write_anchor VAR PATH: write the content of the environment variable VAR (a repository
# variable or secret handed to the step) to PATH, mode 0600, and print PATH. Returns 1 when
# VAR is empty. Trust anchors come from the repository's settings, never from its files.
write_anchor() {
    local var=$1 path=$2
    [ -n "${!var:-}" ] || return 1
    (umask 077 && printf '%s\n' "${!var}" >"$path")
    printf '%s\n' "$path"
}

# trust_file: unpack $ADAPTERCTL_TRUST_BUNDLE (base64 of a tar.gz holding trust.yaml and the
# keys, roots and trust configurations it names) and print the path of its trust.yaml.
trust_file() {
    local dir
    [ -n "${ADAPTERCTL_TRUST_BUNDLE:-}" ] || return 1
    dir=$(scratch)/trust
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '%s' "$ADAPTERCTL_TRUST_BUNDLE" | base64 -d | tar -xzf - -C "$dir" --no-same-owner
    [ -f "$dir/trust.yaml" ] || {
        echo "ADAPTERCTL_TRUST_BUNDLE holds no trust.yaml at its top level" >&2
        return 1
    }
    printf '%s\n' "$dir/trust.yaml"
}

# git_auth TOKEN: let git (and adapterctl's git calls) authenticate to the GitHub server with
# TOKEN through GIT_CONFIG_* variables of this shell's children only; nothing is written to
# .git/config, so the checkout keeps persist-credentials: false.
git_auth() {
    local server=${GITHUB_SERVER_URL:-https://github.com} basic
    basic=$(printf 'x-access-token:%s' "$1" | base64 | tr -d '\n')
    echo "::add-mask::$basic"
    export GIT_CONFIG_COUNT=1
    export GIT_CONFIG_KEY_0="http.$server/.extraheader"
    export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
}
