#!/usr/bin/env bash
# The container test (`npm run test:containers`): builds Dockerfile.proxy and Dockerfile.node,
# runs one proxy and three nodes on a private network the way the seed's README does, and
# checks what users of the images rely on: jobs through a published port, results from
# another node, tickets surviving a container's replacement on its volume, the seed's
# arguments and variables, non-root processes, health checks and prompt stops.
#
# With podman, deploy/kubernetes/ then runs as pods under `podman kube play` (kube-play.sh).
#
# Podman by default (this machine has no Docker engine): ../shared/tools/container-base.sh
# prepares it and a local stand-in for node:20-slim. Against a real Docker engine:
#   CONTAINER_CLI=docker npm run test:containers
# Everything the run creates has a unique name and is removed on exit; the images are kept
# (tags petrel-proxy:test and petrel-node:test, IMAGE_TAG to change) so rebuilds are cached.
set -uo pipefail

cd "$(dirname "$0")/../.."
here=test/containers
. "$here/lib.sh"

CLI=${CONTAINER_CLI:-podman}
TOOLS=${PETREL_TOOLS:-../shared/tools}
TAG=${IMAGE_TAG:-test}
PROXY_IMAGE=petrel-proxy:$TAG
NODE_IMAGE=petrel-node:$TAG
STOP_LIMIT=${STOP_LIMIT:-5}
RUN=petrel-ct-$(date +%s)-$$
NET=$RUN-net
SECRET=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/$RUN.XXXX")
started=$(now_ms)
containers=()
volumes=()

cleanup() {
  local code=$?
  if ((failed > 0)); then
    for c in "${containers[@]}"; do
      echo "--- last log lines of $c"
      "$CLI" logs --tail 25 "$c" 2>/dev/null
    done
  fi
  for c in "${containers[@]}" $("$CLI" ps -a -q --filter "name=$RUN" 2>/dev/null); do
    remove "$c"
  done
  "$CLI" network rm -f "$NET" >/dev/null 2>&1
  for v in "${volumes[@]}"; do "$CLI" volume rm -f "$v" >/dev/null 2>&1; done
  rm -rf "$LOGS"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
  printf 'container test took %d s\n' $((($(now_ms) - started) / 1000))
  printf '%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
  exit
}

# A step the rest depends on: on failure, report and stop here.
must() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else
    fail "$what"
    finish
  fi
}

# ---- images ------------------------------------------------------------------------------
if [[ $CLI == podman ]]; then
  sh "$TOOLS/container-base.sh" || exit 1
  . "$TOOLS/container-env.sh"
  # the stand-in base image is local only; docker format keeps HEALTHCHECK (OCI drops it)
  build_flags=(--pull=never --format docker)
else
  build_flags=()
fi
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

build() {
  local t0=$(now_ms)
  "$CLI" build "${build_flags[@]}" --build-arg "REVISION=$revision" \
    -f "$1" -t "$2" . >"$LOGS/build-$2.log" 2>&1 || {
    tail -n 40 "$LOGS/build-$2.log"
    return 1
  }
  printf '  %s: built in %d s, %s\n' "$2" $((($(now_ms) - t0) / 1000)) "$(image_size "$2")"
}
must "Dockerfile.proxy builds" build Dockerfile.proxy "$PROXY_IMAGE"
must "Dockerfile.node builds" build Dockerfile.node "$NODE_IMAGE"

# once <run options, image and arguments...>: runs a container to its end, prints its output
# and returns its exit code (read with `wait`: not every Docker API passes it to `run --rm`).
once() {
  local name=$RUN-once-$BASHPID-$RANDOM code
  "$CLI" run -d --name "$name" "$@" >>"$LOGS/run.log" 2>&1 || return 125
  code=$("$CLI" wait "$name" 2>/dev/null | tail -n 1)
  "$CLI" logs "$name" 2>&1
  remove "$name"
  return "${code:-125}"
}

# $2: the JSON of the entrypoint expected (node, its options, the program)
image_is_right() {
  local user entry
  user=$("$CLI" image inspect -f '{{.Config.User}}' "$1")
  entry=$("$CLI" image inspect -f '{{json .Config.Entrypoint}}' "$1")
  "$CLI" image inspect -f '{{json .Config.Healthcheck}}' "$1" | grep -q healthz &&
    [[ $user == node && $entry == "$2" ]] &&
    once --entrypoint sh "$1" -c \
      '[ ! -e node_modules/typescript ] && [ ! -e node_modules/tap ] && [ "$DATA_DIR" = /data ]'
}
# the proxy's options are shared/node-flags.ts's PROXY_NODE_FLAGS (test/node-flags.test.ts
# holds Dockerfile.proxy to them)
check "proxy image: user node, exec-form entrypoint, HEALTHCHECK, production deps only" \
  image_is_right "$PROXY_IMAGE" '["node","--max-semi-space-size=64","dist/proxy/main.js"]'
check "node image: user node, exec-form entrypoint, HEALTHCHECK, production deps only" \
  image_is_right "$NODE_IMAGE" '["node","dist/node/main.js"]'

# ---- a cluster -----------------------------------------------------------------------------
"$CLI" network create "$NET" >/dev/null || exit 1

# run <name> <run options and image and arguments...>: a detached container on the network
# with its own fresh named volume on /data.
run() {
  local name=$RUN-$1
  shift
  [[ " ${containers[*]} " == *" $name "* ]] || containers+=("$name")
  [[ " ${volumes[*]} " == *" $name "* ]] || {
    "$CLI" volume create "$name" >/dev/null
    volumes+=("$name")
  }
  "$CLI" run -d --name "$name" --network "$NET" -v "$name:/data" \
    -e CLUSTER_SECRET="$SECRET" -e LOG_LEVEL=info "$@" >>"$LOGS/run.log" 2>&1
}

# The seed's proxy: positional port, tuned by the seed's variables (periodic dispatch).
must "proxy starts (seed style: image 8080, DISPATCH_PERIOD etc.)" \
  run proxy --network-alias reverse-proxy --network-alias proxy -p 127.0.0.1::8080 \
  -e DISPATCH_PERIOD=100 -e MAX_NUM_JOBS_DISPATCH=10 -e REQUEST_RESULT_PERIOD=1000 \
  -e MAX_NUM_NODES=3 "$PROXY_IMAGE" 8080
api="http://127.0.0.1:$(host_port "$RUN-proxy" 8080)"
check "proxy /healthz answers on its published port" until_ok 30 quiet http "$api/healthz"
check "proxy HEALTHCHECK passes" until_ok 30 healthy "$RUN-proxy"

# node-1 the seed's way (positional proxy host and port, under --init); node-2 by PROXY_URL
# from the image's defaults; node-3 with no NODE_ID, so it must keep a generated one.
must "node-1 starts (seed style: image reverse-proxy 8080, --init)" \
  run node-1 --init -e NODE_ID=node-1 -e SLOTS=2 -p 127.0.0.1::9000 \
  "$NODE_IMAGE" reverse-proxy 8080
must "node-2 starts (PROXY_URL from the image)" \
  run node-2 -e NODE_ID=node-2 -e SLOTS=2 -p 127.0.0.1::9000 "$NODE_IMAGE"
must "node-3 starts (no NODE_ID)" run node-3 -e SLOTS=2 -p 127.0.0.1::9000 "$NODE_IMAGE"
p1=$(host_port "$RUN-node-1" 9000)
p2=$(host_port "$RUN-node-2" 9000)
p3=$(host_port "$RUN-node-3" 9000)

connected() { http "$api/api/cluster" 'json.nodes.filter((n) => n.connected).length' 2>/dev/null; }
three_connected() { [[ $(connected) == 3 ]]; }
node_ids() {
  http "$api/api/cluster" 'json.nodes.filter((n) => n.connected).map((n) => n.id).sort().join(" ")'
}
must "three nodes join the proxy with CLUSTER_SECRET" until_ok 60 three_connected
ids_before=$(node_ids)
echo "  nodes: $ids_before"
all_healthy() { healthy "$RUN-node-1" && healthy "$RUN-node-2" && healthy "$RUN-node-3"; }
check "node HEALTHCHECKs pass (HTTP_PORT on in the image)" until_ok 30 all_healthy

# ---- jobs through published ports ----------------------------------------------------------
ticket_re='[0-9A-Z]{26}'
# is <text> <extended regex>: the text matches (grep -E, so quotes need no escaping).
is() { grep -Eq -- "$2" <<<"$1"; }

reply=$(ask "$p1" 'SUBMIT echo hi')
echo "  node-1: SUBMIT echo hi -> $reply"
check "SUBMIT echo hi on node-1 -> OK <ticket>" is "$reply" "^OK $ticket_re\$"
echo_ticket=${reply#OK }
reply=$(ask "$p2" "WAIT $echo_ticket 5000")
echo "  node-2: WAIT -> ${reply:0:100}"
done_hi() { is "$reply" '^OK \{.*"state":"done"' && is "$reply" '"output":"hi'; }
check 'WAIT <ticket> from node-2 -> OK {"state":"done", "output":"hi"}' done_hi

reply=$(ask "$p1" 500)
echo "  node-1: 500 -> $reply"
check "seed dialect on node-1: 500 -> Ticket ID: <ticket>" is "$reply" "^Ticket ID: $ticket_re\$"
seed_ticket=${reply#Ticket ID: }
seed_done() {
  is "$(ask "$p1" "r$seed_ticket")" "^Result: Executed Job\[$seed_ticket\] for 500 milliseconds"
}
check "seed dialect: r<ticket> -> Result: Executed Job[<ticket>] for 500 milliseconds" \
  until_ok 15 seed_done
check "the seed job's result from node-3 (WAIT)" \
  is "$(ask "$p3" "WAIT $seed_ticket 5000")" '^OK \{.*"state":"done"'

# A burst through node-2 under the seed's periodic dispatch: all done, spread over nodes.
submits=()
for _ in {1..12}; do submits+=('SUBMIT sleep 300'); done
mapfile -t burst < <(session "$p2" "${submits[@]}" | sed -n 's/^OK \([0-9A-Z]\{26\}\)$/\1/p')
waits=()
for t in "${burst[@]}"; do waits+=("WAIT $t 15000"); done
results=$(READ_TIMEOUT=30 session "$p3" "${waits[@]}")
done_count=$(grep -c '"state":"done"' <<<"$results")
spread=$(grep -o '"node":"[^"]*"' <<<"$results" | sort -u | wc -l)
echo "  12 jobs via node-2: $done_count done (asked on node-3), ran on $spread nodes"
burst_ok() { ((${#burst[@]} == 12 && done_count == 12 && spread >= 2)); }
check "12 jobs under DISPATCH_PERIOD=100 all done, on more than one node" burst_ok

# ---- the seed's variables ------------------------------------------------------------------
run node-4 -e NODE_ID=node-4 "$NODE_IMAGE"
refused() { http "$api/metrics" 'body' | grep -Eq '^petrel_proxy_refused_connections_total [1-9]'; }
fourth_refused() { until_ok 20 refused && three_connected; }
check "MAX_NUM_NODES=3: a fourth node is refused" fourth_refused
remove "$RUN-node-4"

bad_config() {
  local out
  out=$(once -e DISPATCH_PERIOD=soon -e MAX_NUM_NODES=0 "$PROXY_IMAGE")
  local code=$?
  echo "  exit $code: $(grep -m1 -o 'DISPATCH_PERIOD[^,]*' <<<"$out")"
  ((code != 0)) && grep -q DISPATCH_PERIOD <<<"$out" && grep -q MAX_NUM_NODES <<<"$out"
}
check "bad DISPATCH_PERIOD and MAX_NUM_NODES: exits non-zero naming both" bad_config

# ---- users and volumes ---------------------------------------------------------------------
for c in proxy node-1 node-2 node-3; do
  check "$c runs as uid 1000 (node), not root" uid_is "$RUN-$c" 1000
done
data_owned() {
  "$CLI" exec "$RUN-node-3" sh -c '[ -n "$(ls /data)" ] && [ -z "$(find /data ! -user 1000)" ]'
}
check "a fresh named volume on /data is written by the node user" data_owned

# ---- restarts keep tickets -----------------------------------------------------------------
mapfile -t mine < <(session "$p3" 'SUBMIT echo kept-1' 'SUBMIT echo kept-2' | sed -n 's/^OK //p')
session "$p3" "WAIT ${mine[0]:-x} 5000" "WAIT ${mine[1]:-x} 5000" >/dev/null
"$CLI" stop -t 10 "$RUN-node-3" >/dev/null 2>&1
"$CLI" rm "$RUN-node-3" >/dev/null 2>&1
must "node-3 replaced by a new container on the same volume" \
  run node-3 -e SLOTS=2 -p 127.0.0.1::9000 "$NODE_IMAGE"
p3=$(host_port "$RUN-node-3" 9000)
kept() {
  local out
  out=$(session "$p3" "RESULT ${mine[0]:-x}" "RESULT ${mine[1]:-x}" LIST) || return 1
  grep -q '"output":"kept-1' <<<"$out" && grep -q '"output":"kept-2' <<<"$out" &&
    grep -q "^${mine[0]:-x} done" <<<"$out"
}
check "node-3's tickets survive on its volume (RESULT, LIST)" until_ok 30 kept
same_ids() { three_connected && [[ $(node_ids) == "$ids_before" ]]; }
check "node-3 rejoins with the same generated NODE_ID" until_ok 30 same_ids

"$CLI" restart -t 10 "$RUN-node-1" >/dev/null 2>&1
p1=$(host_port "$RUN-node-1" 9000)
seed_kept() { ask "$p1" "r$seed_ticket" | grep -q '^Result: Executed Job'; }
check "node-1 restarted: its seed ticket still answers" until_ok 30 seed_kept

# ---- stopping ------------------------------------------------------------------------------
until_ok 30 three_connected
check "node-1 (--init) stops within ${STOP_LIMIT}s, exit 0" stop_within "$RUN-node-1" "$STOP_LIMIT"
check "node-2 (no --init, node is PID 1) stops within ${STOP_LIMIT}s, exit 0" \
  stop_within "$RUN-node-2" "$STOP_LIMIT"
# With a job running, the first SIGTERM drains: the node waits for the job (a plain `stop`
# would end in SIGKILL after its timeout). A second SIGTERM hands the job back and exits.
long=$(ask "$p3" 'SUBMIT sleep 60000')
running() { [[ $(ask "$p3" "STATUS ${long#OK }") == 'OK running' ]]; }
draining() { "$CLI" logs "$RUN-node-3" 2>&1 | grep -q '"signal":"SIGTERM"'; }
still_up() { [[ $("$CLI" inspect -f '{{.State.Running}}' "$RUN-node-3") == true ]]; }
first_term() {
  until_ok 20 running && "$CLI" kill -s TERM "$RUN-node-3" >/dev/null &&
    until_ok 10 draining && still_up
}
check "node-3 with a job running: the first SIGTERM drains, waiting for the job" first_term
check "node-3: a second SIGTERM stops it within ${STOP_LIMIT}s, exit 0" \
  signal_stops_within "$RUN-node-3" "$STOP_LIMIT"
check "proxy (no --init) stops within ${STOP_LIMIT}s, exit 0" stop_within "$RUN-proxy" "$STOP_LIMIT"

# ---- deploy/kubernetes under podman kube play ------------------------------------------------
. "$here/kube-play.sh"

finish
