# Shared helpers for bench/run-throughput and bench/run-sighup (sourced, not run).
# Sets BENCH, ROOT, WORK, VENV; provides setup, start_server, wait_port, verify, stop_all.

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
WORK="$BENCH/work"
VENV="${BENCH_VENV:-$BENCH/.venv}"   # bench/run-read-heap sets one per Python version
BODY='{"message":"Hello, World!"}'
PIDS=()
mkdir -p "$WORK"

log() { echo "[bench] $*" >&2; }

# Install wrk/nginx (Debian, root), the bench venv, and frostfork from the repo root.
# FROSTFORK is set to "yes" when frostfork installed and imports, else "no".
# SKIP_INSTALL=1 skips the frostfork reinstall (keeps whatever the venv has).
# FROSTFORK_REF=<git ref> installs that commit (git archive into $WORK/frostfork-src)
# instead of the working tree, e.g. while the tree is mid-edit. FROSTFORK_DESC says
# which frostfork was installed (for RESULTS.md).
setup() {
    if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
        [ "$(id -u)" = 0 ] || { log "wrk/nginx missing and not root"; exit 1; }
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk nginx
    fi
    local stamp="$VENV/.requirements.sha"
    local sha; sha=$(sha256sum "$BENCH/requirements.txt" | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$sha" ]; then
        log "creating bench venv"
        "${PYTHON:-python3}" -m venv "$VENV"
        { "$VENV/bin/pip" install --upgrade pip && "$VENV/bin/pip" install -r "$BENCH/requirements.txt"; } \
            >"$WORK/venv-install.log" 2>&1 && echo "$sha" >"$stamp" \
            || { tail -20 "$WORK/venv-install.log"; log "bench venv install failed"; exit 1; }
    fi
    local src="$ROOT" build="$WORK/frostfork-build$(basename "$VENV" | sed 's/^\.venv//')"
    local head; head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    FROSTFORK_DESC="working tree at $head"
    git -C "$ROOT" diff --quiet HEAD -- src meson.build pyproject.toml 2>/dev/null \
        || FROSTFORK_DESC+=" + uncommitted changes"
    if [ -n "${FROSTFORK_REF:-}" ]; then
        src="$WORK/frostfork-src" build="$build-ref"
        FROSTFORK_DESC="commit $(git -C "$ROOT" rev-parse --short "$FROSTFORK_REF") (FROSTFORK_REF=$FROSTFORK_REF)"
    fi
    [ "${SKIP_INSTALL:-0}" = 1 ] && FROSTFORK_DESC="as already installed in the bench venv (SKIP_INSTALL=1)"
    if [ "${SKIP_INSTALL:-0}" != 1 ]; then
        if [ -n "${FROSTFORK_REF:-}" ]; then
            rm -rf "$src" && mkdir -p "$src" \
                && git -C "$ROOT" archive "$FROSTFORK_REF" | tar -x -C "$src" \
                || { log "git archive $FROSTFORK_REF failed"; exit 1; }
        fi
        log "installing frostfork from $src (log: $WORK/frostfork-install.log)"
        "$VENV/bin/pip" uninstall -q -y frostfork >/dev/null 2>&1
        # build-dir under bench/work: incremental rebuilds, nothing written outside bench/
        "$VENV/bin/pip" install --no-deps --config-settings=build-dir="$build" "$src" \
            >"$WORK/frostfork-install.log" 2>&1 \
            || log "frostfork install failed"
    fi
    if [ -x "$VENV/bin/frostfork" ] && (cd / && "$VENV/bin/python" -c 'import frostfork') 2>/dev/null
    then FROSTFORK=yes; else FROSTFORK=no; fi
}

free_port() {
    "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME CMD...: run CMD pinned to core 0 from the repo root; the pid
# (taskset execs, so it is the server's own pid) goes into PIDS and SERVER_PID.
start_server() {
    local name=$1; shift
    (cd "$ROOT" && PYTHONPATH="$ROOT" PATH="$VENV/bin:$PATH" exec taskset -c 0 "$@") \
        >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
}

# wait_port PORT PID: up to ~10 s for the port to accept connections while PID lives.
wait_port() {
    local i
    for i in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    return 1
}

# verify PORT: GET / must be 200, application/json, and exactly BODY. Prints the problem if not.
verify() {
    local code
    code=$(curl -s --max-time 5 -D "$WORK/verify.hdr" -o "$WORK/verify.body" -w '%{http_code}' "http://127.0.0.1:$1/")
    [ "$code" = 200 ] || { echo "status $code"; return 1; }
    grep -qi '^content-type: *application/json' "$WORK/verify.hdr" || { echo "bad content-type"; return 1; }
    [ "$(cat "$WORK/verify.body")" = "$BODY" ] && [ "$(wc -c <"$WORK/verify.body")" = 27 ] \
        || { echo "body $(head -c 60 "$WORK/verify.body")"; return 1; }
}

# stop PID: TERM, wait up to 5 s, then KILL it and its direct children.
stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
}

stop_all() { local p; for p in "${PIDS[@]}"; do stop "$p"; done; PIDS=(); }
