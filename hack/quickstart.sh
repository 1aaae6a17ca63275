#!/usr/bin/env bash
# Runs Kargo end to end on this machine, with no cluster and no registry: a
# local etcd + kube-apiserver (the envtest binaries of hack/envtest-assets.sh),
# the private Swarm of hack/swarm.sh, the CRDs, `bin/kargo manager`, and the
# samples (config/quickstart) in namespace geo; then the promotion pipeline
# (config/quickstart/promotion) fed by an in-memory OCI registry
# (bin/kargo-registry, hack/registry) holding kargo/app:1.0.0; then waits until
# all is Ready and Stage prod holds that release.
#
#   hack/quickstart.sh up     start what is not running yet (idempotent), apply, wait
#   hack/quickstart.sh down   delete the samples (Swarm objects go with them), stop
#                             everything by pidfile, remove the state dir
#
# Needs `make build envtest-assets` first (`make quickstart` does both).
# KARGO_QUICKSTART_DIR    state dir: etcd data, pki, kubeconfig, logs, pidfiles
#                         (default /tmp/kargo-quickstart)
# KARGO_QUICKSTART_KEEP_SWARM=1  `down` leaves the Swarm running. It always does
#                         when the Swarm was up already before `up` (hack/swarm.sh
#                         status), e.g. for the tests: it stops only what it started.
# Ports, all on 127.0.0.1: etcd 12379/12380, kube-apiserver 16443, manager
# metrics 18090 and probes 18091, registry 15000; the sample web service
# publishes 18080, the pipeline's app-test-web 18081 and app-prod-web 18082.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

dir=${KARGO_QUICKSTART_DIR:-/tmp/kargo-quickstart}
case $dir in /*) ;; *) echo "quickstart: KARGO_QUICKSTART_DIR must be absolute: $dir" >&2; exit 2 ;; esac
dir=${dir%/}
mark=$dir/.kargo-quickstart # `down` removes only a dir that `up` marked
kubeconfig=$dir/kubeconfig
etcd_url=http://127.0.0.1:12379
etcd_peer_url=http://127.0.0.1:12380
api_port=16443
metrics_addr=127.0.0.1:18090
probe_addr=127.0.0.1:18091
web_url=http://127.0.0.1:18080/ # published port of config/samples/swarm_v1alpha1_service_web.yaml
ns=geo
kargo=$root/bin/kargo
registry=$root/bin/kargo-registry
registry_addr=127.0.0.1:15000
app_repo=kargo/app
# The command of the pushed images (the pipeline's Services set none).
app_cmd='httpd -f -p 8080 -h /etc'

log() { echo "quickstart: $*" >&2; }
die() { log "$*"; exit 1; }
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

# alive PID NAME: PID is a live (not zombie) process called NAME.
alive() {
  [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] &&
    [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
pidof_() { cat "$dir/$1.pid" 2>/dev/null || true; }
running() { alive "$(pidof_ "$1")" "$2"; }

# start NAME COMM CMD...: runs CMD detached, logging to $dir/NAME.log, unless the
# process in $dir/NAME.pid is alive.
start() {
  local name=$1 comm=$2
  shift 2
  if running "$name" "$comm"; then
    log "$name already running (pid $(pidof_ "$name"))"
    return
  fi
  log "starting $name (log: $dir/$name.log)"
  setsid nohup "$@" </dev/null >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# wait_for NAME COMM SECONDS CHECK...: until CHECK succeeds, as long as NAME lives.
wait_for() {
  local name=$1 comm=$2 secs=$3
  shift 3
  for _ in $(seq "$secs"); do
    "$@" >/dev/null 2>&1 && return
    running "$name" "$comm" || { tail -n 30 "$dir/$name.log" >&2; die "$name exited"; }
    sleep 1
  done
  tail -n 30 "$dir/$name.log" >&2
  die "$name not ready within ${secs}s"
}

# kill_wait NAME COMM SECONDS: SIGTERM the process in NAME's pidfile, SIGKILL after SECONDS.
kill_wait() {
  local name=$1 comm=$2 p
  p=$(pidof_ "$name")
  if alive "$p" "$comm"; then
    log "stopping $name (pid $p)"
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq "$3"); do alive "$p" "$comm" || break; sleep 1; done
    if alive "$p" "$comm"; then
      log "$name $p did not stop in $3s; killing it"
      kill -KILL "$p" 2>/dev/null || true
      sleep 1
    fi
  fi
  rm -f "$dir/$name.pid"
}

etcd_healthy() { curl -sf --max-time 2 "$etcd_url/health" | grep -q '"health":"true"'; }
api_ready() { [ "$(k get --raw /readyz 2>/dev/null)" = ok ]; }
manager_ready() { curl -sf --max-time 2 "http://$probe_addr/readyz"; }
# registry_has TAG: the registry serves kargo/app:TAG.
registry_has() {
  curl -sf --max-time 2 -o /dev/null -I "http://$registry_addr/v2/$app_repo/manifests/$1"
}
# prod_holds_freight: Stage prod is Ready and holds Freight.
prod_holds_freight() {
  [ -n "$(k get -n "$ns" stage/prod -o jsonpath='{.status.currentFreight.name}')" ] &&
    [ "$(k get -n "$ns" stage/prod -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

prepare() {
  [ -e "$mark" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ] || die "$dir is not empty and not ours"
  mkdir -p "$dir/pki" "$dir/etcd" && chmod 700 "$dir" && touch "$mark"
  [ -s "$dir/pki/sa.key" ] || openssl genrsa -out "$dir/pki/sa.key" 2048 2>/dev/null
  if [ ! -s "$dir/token" ]; then
    openssl rand -hex 24 >"$dir/token.tmp" && mv "$dir/token.tmp" "$dir/token"
  fi
  local token
  token=$(cat "$dir/token")
  # token,user,uid,group: a static cluster-admin (system:masters bypasses RBAC).
  echo "$token,kargo-admin,kargo-admin,system:masters" >"$dir/pki/tokens.csv"
  cat >"$kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: kargo-quickstart
    cluster:
      server: https://127.0.0.1:$api_port
      insecure-skip-tls-verify: true
users:
  - name: kargo-admin
    user:
      token: $token
contexts:
  - name: kargo-quickstart
    context: {cluster: kargo-quickstart, user: kargo-admin, namespace: $ns}
current-context: kargo-quickstart
EOF
  chmod 600 "$kubeconfig.tmp" && mv "$kubeconfig.tmp" "$kubeconfig"
}

up() {
  command -v kubectl >/dev/null || die "kubectl not found"
  [ -x "$kargo" ] || die "$kargo missing: run make build (or make quickstart)"
  [ -x "$registry" ] || die "$registry missing: run make build (or make quickstart)"
  local assets out host
  assets=$(hack/envtest-assets.sh)
  prepare

  # 1. etcd + kube-apiserver, flags as controller-runtime's envtest sets them.
  start etcd etcd "$assets/etcd" --name kargo-quickstart --data-dir "$dir/etcd" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "$etcd_peer_url" --initial-advertise-peer-urls "$etcd_peer_url" \
    --initial-cluster "kargo-quickstart=$etcd_peer_url"
  wait_for etcd etcd 30 etcd_healthy
  # --advertise-address: otherwise the apiserver picks the host's interface
  # address for the `kubernetes` Endpoints; keep everything on loopback. The
  # endpoint reconciler refuses a loopback address, and nothing here needs that
  # Service: no reconciler.
  start kube-apiserver kube-apiserver "$assets/kube-apiserver" \
    --etcd-servers "$etcd_url" \
    --secure-port "$api_port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --endpoint-reconciler-type none \
    --cert-dir "$dir/pki" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/pki/sa.key" \
    --service-account-signing-key-file "$dir/pki/sa.key" \
    --authorization-mode RBAC \
    --token-auth-file "$dir/pki/tokens.csv" \
    --allow-privileged=true \
    --disable-admission-plugins ServiceAccount
  wait_for kube-apiserver kube-apiserver 90 api_ready
  log "kube-apiserver ready on https://127.0.0.1:$api_port"

  # 2. The Swarm. Remember whether it was up already: then `down` keeps it.
  if [ ! -e "$dir/swarm-owned" ] && [ ! -e "$dir/swarm-shared" ]; then
    if hack/swarm.sh status 2>/dev/null; then touch "$dir/swarm-shared"; else touch "$dir/swarm-owned"; fi
  fi
  out=$(hack/swarm.sh up)
  host=$(printf '%s\n' "$out" | sed -n 's/^export DOCKER_HOST=//p')
  [ -n "$host" ] || die "hack/swarm.sh up printed no DOCKER_HOST: $out"
  export DOCKER_HOST=$host
  log "swarm on $DOCKER_HOST"
  [ "$host" = unix:///tmp/kargo-swarm/docker.sock ] ||
    log "warning: config/quickstart points Environment local at unix:///tmp/kargo-swarm/docker.sock, not $host"

  # 3. The registry (after the Swarm: hack/swarm.sh installs the static
  # busybox its images are made of). It keeps images in memory: when it
  # starts, it pushes kargo/app:1.0.0 again (a new digest, so new Freight).
  # The local dockerd pulls from a loopback registry over plain HTTP.
  start registry kargo-registry "$registry" -addr "$registry_addr" -cmd "$app_cmd" -push "$app_repo:1.0.0"
  wait_for registry kargo-registry 30 registry_has 1.0.0
  log "registry on $registry_addr holds $app_repo:1.0.0"

  # 4. CRDs.
  local crds
  crds=$(k apply --server-side --force-conflicts -k config/crd -o name)
  # shellcheck disable=SC2086
  k wait --for condition=Established --timeout=60s $crds >/dev/null

  # 5. The manager; restarted when bin/kargo is newer than the running one.
  if running manager kargo && [ "$kargo" -nt "$dir/manager.pid" ]; then
    log "bin/kargo was rebuilt: restarting the manager"
    kill_wait manager kargo 30
  fi
  # No admission webhook: the quickstart installs none (config/webhook needs
  # a Service in a cluster), and its user is a cluster admin anyway.
  KUBECONFIG=$kubeconfig start manager kargo "$kargo" manager \
    --metrics-bind-address="$metrics_addr" --health-probe-bind-address="$probe_addr" --webhook-port=0
  wait_for manager kargo 60 manager_ready

  # 6. The samples, then the pipeline (it uses their Environment local).
  k get namespace "$ns" >/dev/null 2>&1 || k create namespace "$ns" >/dev/null
  k apply -n "$ns" -k config/quickstart
  k apply -n "$ns" -k config/quickstart/promotion

  # 7. Wait until Ready and prod holds Freight (one deadline for all): the
  # release goes through test (its services updated to the digest, then a
  # 10s soak) before prod (the same, then the verification job).
  log "waiting until Stage prod holds Freight, and environment/local, every Stack and every service are Ready"
  local deadline=$((SECONDS + 300))
  remaining() { local r=$((deadline - SECONDS)); echo "$((r > 0 ? r : 1))"; }
  until_deadline() { until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 2; done; }
  if ! until_deadline prod_holds_freight ||
    ! k wait -n "$ns" --for=condition=Ready --timeout="$(remaining)s" environment/local ||
    ! k wait -n "$ns" --for=condition=Ready --timeout="$(remaining)s" stacks.swarm.kargo.io --all ||
    ! k wait -n "$ns" --for=condition=Ready --timeout="$(remaining)s" services.swarm.kargo.io --all; then
    log "not Ready in time; the objects:"
    k get -n "$ns" environments.swarm.kargo.io,stacks.swarm.kargo.io,services.swarm.kargo.io,warehouses,freight,stages,promotions -o yaml >&2 || true
    log "tail of $dir/manager.log:"
    tail -n 50 "$dir/manager.log" >&2
    exit 1
  fi

  # 8. Show it.
  echo
  echo "== kubectl get kargo -A"
  k get kargo -A
  echo
  echo "== kargo pipeline"
  KUBECONFIG=$kubeconfig "$kargo" pipeline -n "$ns"
  echo
  echo "== docker service ls"
  docker service ls
  echo
  echo "== curl -s $web_url"
  local body=
  for _ in $(seq 15); do body=$(curl -s --max-time 2 "$web_url") && [ -n "$body" ] && break; sleep 1; done
  if [ -n "$body" ]; then echo "$body"; else echo "(no answer yet from $web_url)"; fi
  cat <<EOF

Kargo quickstart is up (state and logs in $dir). Use it with:
  export KUBECONFIG=$kubeconfig DOCKER_HOST=$DOCKER_HOST
  kubectl get kargo -A; docker service ls; docker stack ps kargo-geo
  bin/kargo freight; bin/kargo pipeline; curl -s 127.0.0.1:18082/kargo-release
Release a new version (test takes it, then prod once test verified it):
  bin/kargo-registry -connect -addr $registry_addr -cmd '$app_cmd' -push $app_repo:1.0.1
Manager log: $dir/manager.log. Stop everything with: make quickstart-down
EOF
}

# Stacks of config/quickstart and config/quickstart/promotion.
stacks='geo monitoring app-test app-prod'

# Removes what the quickstart's Stacks left on a Swarm that stays up: objects
# Kargo labelled as theirs, the verification jobs of their Promotions, and
# the geo stack namespace's volumes (which Swarm created for the db mount and
# nobody removes). Normally there is nothing left.
cleanup_swarm() {
  local stackns=label=com.docker.stack.namespace=kargo-geo
  local kind ids id stack left
  DOCKER_HOST=$(hack/swarm.sh host 2>/dev/null) || return 0
  export DOCKER_HOST
  ids=
  for stack in $stacks; do
    ids="$ids $(docker service ls -q --filter "label=swarm.kargo.io/owner=$ns/$stack" 2>/dev/null || true)"
  done
  for id in $(docker service ls -q --filter label=swarm.kargo.io/promotion 2>/dev/null || true); do
    case $(docker service inspect -f '{{index .Spec.Labels "swarm.kargo.io/promotion"}}' "$id" 2>/dev/null) in
      "$ns"/*) ids="$ids $id" ;;
    esac
  done
  # shellcheck disable=SC2086
  [ -z "${ids// /}" ] || { log "removing services the delete left:" $ids; docker service rm $ids >/dev/null || true; }
  local first=1
  for _ in $(seq 30); do
    left=
    for kind in config secret network volume; do
      if [ $kind = volume ]; then
        ids=$(docker volume ls -q --filter "$stackns" || true)
      else
        ids=
        for stack in $stacks; do ids="$ids $(docker $kind ls -q --filter "label=swarm.kargo.io/owner=$ns/$stack" || true)"; done
      fi
      [ -n "${ids// /}" ] || continue
      # Volumes are left by design (Kargo never deletes them); the rest
      # should have gone with the Stacks.
      # shellcheck disable=SC2086
      [ -z "$first" ] || [ $kind = volume ] || log "removing ${kind}s the delete left:" $ids
      # shellcheck disable=SC2086
      docker $kind rm $ids >/dev/null 2>&1 || left="$left $kind"
    done
    first=
    [ -n "$left" ] || return 0
    sleep 1 # containers of removed services still stopping
  done
  log "warning: could not remove every$left of the quickstart's Stacks from the Swarm"
}

down() {
  [ -d "$dir" ] || { log "nothing to stop: no $dir"; return; }
  [ -e "$mark" ] || die "refusing to clean $dir: no $mark"
  # Delete the samples while the manager still runs, so that it removes their
  # Swarm objects and finalizers: the Stages first (no new Promotion), then
  # the Promotions (a running one's finalizer removes its verification job),
  # then the Stacks, while their Environment exists.
  if running kube-apiserver kube-apiserver && running manager kargo && api_ready; then
    log "deleting the pipeline and the samples (the manager removes their Swarm objects)"
    k delete -n "$ns" stages.swarm.kargo.io,warehouses.swarm.kargo.io --all --wait=true --timeout=30s ||
      log "warning: the Stages and Warehouses not deleted in 30s"
    k delete -n "$ns" promotions.swarm.kargo.io --all --wait=true --timeout=60s ||
      log "warning: the Promotions not deleted in 60s"
    k delete -n "$ns" -k config/quickstart/promotion --ignore-not-found --wait=true --timeout=90s ||
      log "warning: the pipeline's Stacks not deleted in 90s"
    k delete -n "$ns" stacks.swarm.kargo.io/geo --ignore-not-found --wait=true --timeout=90s ||
      log "warning: stack/geo not deleted in 90s"
    k delete -n "$ns" -k config/quickstart --ignore-not-found --wait=true --timeout=60s ||
      log "warning: the samples not deleted in 60s"
  fi
  kill_wait manager kargo 30
  kill_wait registry kargo-registry 10
  kill_wait kube-apiserver kube-apiserver 30
  kill_wait etcd etcd 30
  # Stop the Swarm only if this quickstart started it.
  if [ -e "$dir/swarm-owned" ] && [ "${KARGO_QUICKSTART_KEEP_SWARM:-}" != 1 ]; then
    hack/swarm.sh down
  else
    cleanup_swarm
    log "leaving the Swarm running (quickstart did not start it, or KARGO_QUICKSTART_KEEP_SWARM=1)"
  fi
  rm -rf "$dir"
  log "down"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
