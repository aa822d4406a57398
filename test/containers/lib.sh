# Helpers for test/containers/run.sh: a line-protocol client, HTTP from the host, container
# health and timing, PASS/FAIL bookkeeping. Sourced, not run. Needs bash (for /dev/tcp) and
# node on the host; CLI names the container CLI (podman or docker).

passed=0
failed=0

pass() {
  passed=$((passed + 1))
  printf 'PASS %s\n' "$*"
}

fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$*"
}

# check <description> <command...>: PASS when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

quiet() { "$@" >/dev/null 2>&1; }

# remove <container>: gone at once, running or not.
remove() {
  if [[ $CLI == podman ]]; then
    podman rm -f -v -t 0 "$1" >/dev/null 2>&1
  else
    "$CLI" rm -f -v "$1" >/dev/null 2>&1
  fi
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# until_ok <seconds> <command...>: retries the command every half second until it succeeds.
until_ok() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.5
  done
}

# session <port> <line...>: sends the lines and QUIT to a node's client port on this host's
# loopback, prints every reply line (replies come in request order) until the node closes.
session() {
  local port=$1 fd line
  shift
  { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf '%s\n' "$@" QUIT >&"$fd"
  while IFS= read -r -t "${READ_TIMEOUT:-20}" line <&"$fd"; do
    printf '%s\n' "${line%$'\r'}"
  done
  exec {fd}>&-
}

# ask <port> <line>: the first reply line to one request.
ask() {
  session "$1" "$2" | head -n 1
}

# http <url> [js expression over `body` (text) and `json`]: prints the expression (default:
# the body); fails unless the status is 2xx.
http() {
  node -e '
    const [url, expr = "body"] = process.argv.slice(1);
    fetch(url).then(async (r) => {
      const body = await r.text();
      let json;
      try { json = JSON.parse(body); } catch {}
      console.log(eval(expr));
      process.exit(r.ok ? 0 : 1);
    }, () => process.exit(2));
  ' "$@"
}

# host_port <container> <container port>: the loopback port the container port is published on.
host_port() {
  local mapping
  mapping=$("$CLI" port "$1" "$2/tcp" | head -n 1)
  printf '%s\n' "${mapping##*:}"
}

# healthy <container>: the image's HEALTHCHECK passes. Podman without systemd runs no health
# timers, so the check is run on demand; Docker runs it itself.
healthy() {
  if [[ $CLI == podman ]]; then
    podman healthcheck run "$1" >/dev/null 2>&1
  else
    [[ $(docker inspect -f '{{.State.Health.Status}}' "$1") == healthy ]]
  fi
}

# stop_within <container> <seconds>: `stop` returns within the limit and the process exited
# 0 by itself (not killed after the stop timeout). Prints the time taken.
stop_within() {
  local t0 ms code
  t0=$(now_ms)
  "$CLI" stop -t 10 "$1" >/dev/null 2>&1
  ms=$(($(now_ms) - t0))
  code=$("$CLI" inspect -f '{{.State.ExitCode}}' "$1")
  printf '  %s stopped in %d ms, exit code %s\n' "$1" "$ms" "$code"
  ((ms < $2 * 1000)) && [[ $code == 0 ]]
}

# signal_stops_within <container> <seconds>: after SIGTERM the process exits 0 within the limit.
signal_stops_within() {
  local t0 ms code
  t0=$(now_ms)
  "$CLI" kill -s TERM "$1" >/dev/null 2>&1
  code=$(timeout "$2" "$CLI" wait "$1" 2>/dev/null | tail -n 1)
  ms=$(($(now_ms) - t0))
  printf '  %s exited %s after %d ms\n' "$1" "${code:-(still running)}" "$ms"
  [[ $code == 0 ]]
}

# uid_is <container> <uid>: every process in the container runs as this uid.
uid_is() {
  local uids
  uids=$("$CLI" exec "$1" sh -c 'for s in /proc/[0-9]*/status; do
    awk "/^Uid:/ { print \$2 }" "$s" 2>/dev/null; done' | sort -u)
  printf '  %s: uid %s\n' "$1" "$(echo $uids)"
  [[ $uids == "$2" ]]
}

# image_size <image>: its size in MB as the CLI reports it.
image_size() {
  "$CLI" image inspect -f '{{.Size}}' "$1" | awk '{ printf "%d MB", $1 / 1000000 }'
}
