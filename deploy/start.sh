#!/usr/bin/env bash
# Start N Streamlit replicas on 127.0.0.1 behind Debian's nginx (sticky sessions, websocket upgrade).
# Usage: bash deploy/start.sh N [PORT]   (nginx on PORT, default 8500; replicas on PORT+1 .. PORT+N)
# Env: STREAMLIT_SERVER_COOKIE_SECRET (shared by all replicas; generated if unset), APP (default app.py),
#      LISTEN (nginx's address, default 127.0.0.1; 0.0.0.0 to serve the network), NGINX (default /usr/sbin/nginx),
#      REPLICA_BASE_PORT (default PORT+1), STATIC_DIR (Streamlit's static files with .gz copies, built by
#      deploy/static_assets.py; default: built into the run directory at start-up, ~3 s).
# Replicas always listen on 127.0.0.1; nginx serves Streamlit's static files from disk. Ctrl-C or TERM stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "$2" >&2; exit "$1"; }  # status message
N=${1:-}
PORT=${2:-8500}
case "$N" in '' | *[!0-9]*) die 2 "usage: bash deploy/start.sh N [PORT]  (N replicas, e.g. 2)" ;; esac
case "$PORT" in '' | *[!0-9]*) die 2 "PORT must be a number (got '$PORT'); try 8500" ;; esac
[ "$N" -ge 1 ] || die 2 "N must be >= 1 (got $N); try 2"
BASE=${REPLICA_BASE_PORT:-$((PORT + 1))}
APP=${APP:-app.py}
LISTEN=${LISTEN:-127.0.0.1}
case "$LISTEN" in '' | *[!0-9A-Fa-f.:\[\]]*) die 2 "LISTEN must be an IP address (got '$LISTEN'); try 0.0.0.0" ;; esac
HOST=$LISTEN; [ "$HOST" != 0.0.0.0 ] || HOST=127.0.0.1  # where this script checks nginx's health
NGINX=${NGINX:-/usr/sbin/nginx}
STREAMLIT=.venv/bin/streamlit
[ -x "$STREAMLIT" ] || STREAMLIT=$(command -v streamlit) || die 1 "streamlit not found; run: bash scripts/setup.sh"
PYTHON=$(dirname "$STREAMLIT")/python  # the interpreter streamlit is installed in
[ -x "$NGINX" ] || die 1 "nginx not found at $NGINX; install it: sudo apt-get install nginx (or scripts/setup.sh --dev)"
[ -f "$APP" ] || die 1 "app not found: $APP; run from a checkout with app.py at the root"

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/attention-deploy.XXXXXX")
chmod 755 "$RUN_DIR"  # nginx workers may run as another user when started by root
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped; logs kept in $RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every replica must sign cookies (XSRF) with the same secret, or a viewer moved to another replica is rejected.
if [ -z "${STREAMLIT_SERVER_COOKIE_SECRET:-}" ]; then
  STREAMLIT_SERVER_COOKIE_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
fi
export STREAMLIT_SERVER_COOKIE_SECRET

SERVERS=""
for i in $(seq 1 "$N"); do
  p=$((BASE + i - 1))
  "$STREAMLIT" run "$APP" --server.address 127.0.0.1 --server.port "$p" --server.headless true \
    >"$RUN_DIR/replica$i.log" 2>&1 &
  PIDS+=("$!")
  echo "replica $i pid=$! port=$p log=$RUN_DIR/replica$i.log"
  SERVERS+="        server 127.0.0.1:$p max_fails=1 fail_timeout=10s;"$'\n'
done

# Streamlit's static files for nginx, with gzip copies made now (not per request); the replicas start meanwhile.
STATIC_DIR=${STATIC_DIR:-$RUN_DIR/static}
"$PYTHON" deploy/static_assets.py "$STATIC_DIR" || die 1 "could not prepare Streamlit's static files in $STATIC_DIR"
case "$STATIC_DIR" in /*) ;; *) STATIC_DIR=$PWD/$STATIC_DIR ;; esac

# Render the template: the upstream list, the listen port, the run and static directories.
CONF="$RUN_DIR/nginx.conf"
while IFS= read -r line; do
  if [ "$line" = "@UPSTREAM_SERVERS@" ]; then printf '%s' "$SERVERS"; else
    line=${line//@LISTEN@/$LISTEN}; line=${line//@PORT@/$PORT}; line=${line//@STATIC_DIR@/$STATIC_DIR}; printf '%s\n' "${line//@RUN_DIR@/$RUN_DIR}"; fi
done <deploy/nginx.conf.template >"$CONF"

http_ok() {  # url -> exit 0 when it answers 200
  if command -v curl >/dev/null; then curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; else
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; fi
}
wait_healthy() {  # url pid what -> waits up to 120 s; fails if the process died
  for _ in $(seq 1 240); do
    http_ok "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "$3 exited during start-up; see its log in $RUN_DIR" >&2; return 1; }
    sleep 0.5
  done
  echo "$3 not healthy after 120 s; see its log in $RUN_DIR" >&2
  return 1
}

"$NGINX" -p "$RUN_DIR" -c "$CONF" -e "$RUN_DIR/error.log" >"$RUN_DIR/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
echo "nginx pid=$NGINX_PID port=$PORT listen=$LISTEN conf=$CONF"

for i in $(seq 1 "$N"); do
  wait_healthy "http://127.0.0.1:$((BASE + i - 1))/_stcore/health" "${PIDS[$((i - 1))]}" "replica $i"
done
wait_healthy "http://$HOST:$PORT/_stcore/health" "$NGINX_PID" "nginx"
echo "logs $RUN_DIR"
echo "ready http://$HOST:$PORT/  (Ctrl-C stops all)"

# Stay in the foreground until a signal arrives or nginx exits; a dead replica is left to nginx's failover.
wait "$NGINX_PID" || true
