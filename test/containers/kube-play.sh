# deploy/kubernetes/ run for real with `podman kube play`, for what podman supports: each
# StatefulSet replica as a Pod with its own claim, the pods' containers, environment,
# commands and volumes as written (scripts/kube-pods.ts), Services as host aliases of fixed
# addresses. Checks: one proxy of the group leads, the others refuse nodes and name it, every
# node joins, jobs run through a node, and the leader's pod killed hands over to another. The
# Secret is given the two optional keys, so the pods must read them: nodes ask clients for
# CLIENT_TOKEN, and the proxies' job views answer only DASHBOARD_TOKEN's bearer.
# Sourced by run.sh (podman only), after the images are built; uses its helpers.

kube_net=$RUN-kube
kube_subnet=10.$((RANDOM % 150 + 100)).$((RANDOM % 250))
kube_file=$LOGS/kube-pods.yaml
kube_dir=$LOGS/kube-manifests
kube_pods=()
kube_client_token=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
kube_dashboard_token=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')

kube_cleanup() {
  local p
  if ((failed > 0)); then
    for p in "${kube_pods[@]}"; do
      [[ $p == petrel-proxy-* ]] && podman pod exists "$p" || continue
      echo "--- last log lines of $p"
      podman logs --tail 15 "$p-proxy" 2>/dev/null
    done
  fi
  [[ -f $kube_file ]] && podman kube down "$kube_file" >/dev/null 2>&1
  for p in "${kube_pods[@]}"; do podman pod rm -f "$p" >/dev/null 2>&1; done
  podman volume ls -q | grep -E -- "-petrel-(proxy|node|etcd)-[0-9]+$" |
    xargs -r podman volume rm -f >/dev/null 2>&1
  podman network rm -f "$kube_net" >/dev/null 2>&1
}

kube_play() {
  local etcd_bin ips=() line
  etcd_bin=$(command -v etcd) || {
    echo 'skipped: etcd is not installed (apt-get install -y etcd-server)'
    return 0
  }
  [[ -f dist/scripts/kube-pods.js ]] || npm run build --silent || return 1
  rm -rf "$kube_dir" && cp -r deploy/kubernetes "$kube_dir" || return 1
  printf '  CLIENT_TOKEN: %s\n  DASHBOARD_TOKEN: %s\n' "$kube_client_token" \
    "$kube_dashboard_token" >>"$kube_dir/secret.yaml"
  node dist/scripts/kube-pods.js "$kube_dir" "$kube_file" "$TAG" "$kube_subnet" \
    "$etcd_bin" >"$LOGS/kube-ips" || return 1
  while read -r line; do
    kube_pods+=("${line% *}")
    ips+=(--ip "${line#* }")
  done <"$LOGS/kube-ips"
  podman network create --subnet "$kube_subnet.0/24" "$kube_net" >/dev/null || return 1
  podman kube play --network "$kube_net" "${ips[@]}" "$kube_file" >"$LOGS/kube-play.log" 2>&1 || {
    tail -n 20 "$LOGS/kube-play.log"
    return 1
  }
}

kube_ip() { awk -v p="$1" '$1 == p { print $2 }' "$LOGS/kube-ips"; }

# kube_ask <ip> <line> [token]: the reply to <line> on a node pod's client port, after
# `AUTH <token>` (the Secret's CLIENT_TOKEN unless given; '' sends no AUTH).
kube_ask() {
  local fd line token=${3-$kube_client_token}
  { exec {fd}<>"/dev/tcp/$1/9000"; } 2>/dev/null || return 1
  if [[ -n $token ]]; then
    printf 'AUTH %s\n' "$token" >&"$fd"
    IFS= read -r -t 20 line <&"$fd"
    [[ ${line%$'\r'} == 'OK authenticated' ]] || { exec {fd}>&-; return 1; }
  fi
  printf '%s\nQUIT\n' "$2" >&"$fd"
  IFS= read -r -t 20 line <&"$fd"
  exec {fd}>&-
  printf '%s\n' "${line%$'\r'}"
}

# the Secret's optional keys reached the pods: a node refuses a client without AUTH, and the
# leader's job views (asked from the host, not the pod's loopback) want the bearer
kube_tokens_wired() {
  local leader=$1 url
  [[ $(kube_ask "$(kube_ip petrel-node-0)" 'STATS' '') == ERR* ]] || return 1
  url="http://$(kube_ip "$leader"):8080/api/jobs"
  [[ $(node -e 'fetch(process.argv[1]).then((r) => console.log(r.status))' "$url") == 401 ]] ||
    return 1
  node -e 'fetch(process.argv[1], { headers: { authorization: "Bearer " + process.argv[2] } })
    .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(2))' \
    "$url" "$kube_dashboard_token"
}

# the proxy pod that leads with every node joined, by name
kube_leader() {
  local p
  for p in petrel-proxy-0 petrel-proxy-1 petrel-proxy-2; do
    [[ $(http "http://$(kube_ip "$p"):8080/readyz" 'json.role + " " + json.nodes' 2>/dev/null) == 'leader 3' ]] &&
      echo "$p" && return 0
  done
  return 1
}

# every follower answers /readyz 503 naming the leader's URL; what each said last is kept in
# kube_followers_said for the log (a follower still starting, or whose etcd watch has not
# caught up yet, names no leader for a moment, so the check is retried)
kube_followers_said=''
kube_followers_name_it() {
  local leader=$1 p r ok=0
  kube_followers_said=''
  for p in petrel-proxy-0 petrel-proxy-1 petrel-proxy-2; do
    [[ $p == "$leader" ]] && continue
    r=$(node -e 'fetch(process.argv[1]).then(async (r) => console.log(r.status, (await r.json()).leader))' \
      "http://$(kube_ip "$p"):8080/readyz" 2>/dev/null) || r='no answer'
    kube_followers_said+="  $p: $r"$'\n'
    [[ $r == "503 ws://$leader.petrel-proxy:8080/cluster" ]] || ok=1
  done
  return "$ok"
}

kube_job_runs() {
  local ticket
  ticket=$(kube_ask "$(kube_ip petrel-node-1)" 'SUBMIT echo from a pod') || return 1
  [[ $ticket == OK* ]] || return 1
  kube_ask "$(kube_ip petrel-node-2)" "WAIT ${ticket#OK } 20000" | grep -q '"output":"from a pod"'
}

kube_takeover() {
  local old=$1 next
  podman pod kill "$old" >/dev/null 2>&1 || return 1
  until_ok 60 kube_leader >/dev/null || return 1
  next=$(kube_leader)
  [[ $next != "$old" ]] && kube_job_runs
}

if [[ $CLI == podman ]]; then
  # run.sh's cleanup exits with the status it finds, so that status is kept for it
  trap 'rc=$?; kube_cleanup; (exit "$rc"); cleanup' EXIT
  must "kube play: deploy/kubernetes as podman pods (StatefulSet replicas, claims, Secret)" kube_play
  if [[ -s $LOGS/kube-ips ]]; then
    check "kube play: one proxy leads with all three nodes joined" until_ok 90 quiet kube_leader
    kube_first=$(kube_leader)
    check "kube play: the followers are not ready and name the leader" \
      until_ok 30 kube_followers_name_it "$kube_first"
    printf '%s' "$kube_followers_said"
    check "kube play: a job submitted to one node pod is answered by another" \
      until_ok 30 kube_job_runs
    check "kube play: the Secret's CLIENT_TOKEN and DASHBOARD_TOKEN reach the pods" \
      kube_tokens_wired "$kube_first"
    check "kube play: the leader's pod killed, another proxy leads and jobs run" \
      kube_takeover "$kube_first"
  fi
  kube_cleanup
fi
