#!/usr/bin/env bash
# The quickstart end to end, as the README tells it, with the real binaries
# (`make test-quickstart`; .ci/run calls it):
#   1. `hack/quickstart.sh up`, which fails unless environment/local, every
#      Stack and every Service are Ready and Stage prod holds 1.0.0;
#   2. a release 1.0.1 pushed to the registry reaches test, then prod;
#   3. a broken 1.0.2 fails in test, is rolled back there to 1.0.1, and is
#      never verified, so prod keeps 1.0.1;
#   4. `hack/quickstart.sh down` deletes the pipeline and the samples, and
#      the manager removes their Swarm objects: down has nothing left to
#      clean up after it, and no Swarm service or network of the quickstart
#      is left. Volumes stay (Kargo never deletes them): the test removes
#      those it made, not those a quickstart run before it left.
# Its state dir is its own (bin/test-quickstart); the ports are the
# quickstart's, so a quickstart already running makes it fail at step 1.
# Needs the Swarm up (make swarm-up), bin/kargo and bin/kargo-registry
# (make build), and kubectl on the PATH (make envtest-assets builds one).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

export KARGO_QUICKSTART_DIR=$root/bin/test-quickstart
registry_addr=127.0.0.1:15000
test_url=http://127.0.0.1:18081/kargo-release
prod_url=http://127.0.0.1:18082/kargo-release
# Stacks of config/quickstart, as Swarm namespaces.
swarm_namespaces='kargo-geo|kargo-monitoring|app-test|app-prod'

log() { echo "test-quickstart: $*" >&2; }
fail() {
  log "FAIL: $*"
  [ -f "$KARGO_QUICKSTART_DIR/manager.log" ] && { log "last lines of the manager's log:"; tail -n 30 "$KARGO_QUICKSTART_DIR/manager.log" >&2; }
  exit 1
}
k() { kubectl --kubeconfig "$KARGO_QUICKSTART_DIR/kubeconfig" -n geo "$@"; }
docker_host=$(hack/swarm.sh host) || fail "no Swarm: run make swarm-up"
d() { DOCKER_HOST=$docker_host docker "$@"; }
# quickstart_objects KIND: names of the quickstart's Swarm objects of KIND.
quickstart_objects() { d "$1" ls --format '{{.Name}}' | grep -E "^($swarm_namespaces)_" || true; }

command -v curl >/dev/null || fail "curl not found (apt-get install curl)"
# A run stopped half way left its processes: stop them first.
[ ! -e "$KARGO_QUICKSTART_DIR" ] || hack/quickstart.sh down >/dev/null 2>&1 || true
volumes_before=$(quickstart_objects volume)
# cleanup stops what step 1 started unless step 4 did, and removes the
# volumes the run made.
cleanup() {
  [ ! -e "$KARGO_QUICKSTART_DIR" ] || hack/quickstart.sh down >/dev/null 2>&1 || log "hack/quickstart.sh down failed"
  for volume in $(quickstart_objects volume); do
    grep -qx "$volume" <<<"$volumes_before" || d volume rm "$volume" >/dev/null || log "volume $volume left"
  done
}
trap cleanup EXIT

started=$SECONDS
log "1. hack/quickstart.sh up"
hack/quickstart.sh up >"$root/bin/test-quickstart.log" 2>&1 || { tail -n 30 "$root/bin/test-quickstart.log" >&2; fail "hack/quickstart.sh up (log: bin/test-quickstart.log)"; }
log "up in $((SECONDS - started)) s"

# release URL: the release the service at URL serves (first line of the file).
release() { curl -s --max-time 2 "$1" | head -n 1; }
# wait_release URL TAG SECONDS: until the service at URL serves release TAG.
wait_release() {
  local want=$registry_addr/kargo/app:$2
  for _ in $(seq "$3"); do
    [ "$(release "$1")" = "$want" ] && return
    sleep 1
  done
  k get promotions -o wide >&2 || true
  fail "$1 serves \"$(release "$1")\" after $3 s, not $want"
}
push() { bin/kargo-registry -connect -addr "$registry_addr" -cmd "$1" -push "kargo/app:$2" >/dev/null; }
# phases LABELS: the phases of the Promotions with those labels.
phases() { k get promotions -l "$1" -o jsonpath='{.items[*].status.phase}'; }

wait_release "$prod_url" 1.0.0 30

started=$SECONDS
log "2. release 1.0.1"
push 'httpd -f -p 8080 -h /etc' 1.0.1
wait_release "$test_url" 1.0.1 180
wait_release "$prod_url" 1.0.1 180
log "1.0.1 in prod after $((SECONDS - started)) s"

started=$SECONDS
log "3. broken release 1.0.2"
push 'exit 1' 1.0.2
rollback=swarm.kargo.io/stage=test,swarm.kargo.io/promotion-cause=Rollback
for _ in $(seq 180); do
  [ "$(phases "$rollback")" = Succeeded ] && break
  sleep 1
done
[ "$(phases "$rollback")" = Succeeded ] || { k get promotions -o wide >&2; fail "no Succeeded rollback Promotion in Stage test 180 s after 1.0.2 (phases: $(phases "$rollback"))"; }
failed=$(k get promotions -l swarm.kargo.io/stage=test -o jsonpath='{range .items[?(@.status.phase=="Failed")]}{.status.message}{"\n"}{end}')
# Failed on the paused update ("non-zero exit (1)") or on the task ("(exit 1)").
[[ $failed == *app-test-web* && ($failed == *"exit (1)"* || $failed == *"(exit 1)"*) ]] || fail "the Failed Promotion of 1.0.2 does not name the service and its task error: \"$failed\""
wait_release "$test_url" 1.0.1 30
verified=$(k get freight -o jsonpath='{range .items[?(@.spec.images[0].tag=="1.0.2")]}{.status.verifiedIn[*].stage}{end}')
[ -z "$verified" ] || fail "1.0.2 verified in: $verified"
[ "$(release "$prod_url")" = "$registry_addr/kargo/app:1.0.1" ] || fail "prod serves \"$(release "$prod_url")\", not 1.0.1"
log "1.0.2 failed in test and was rolled back to 1.0.1 after $((SECONDS - started)) s; prod keeps 1.0.1"

started=$SECONDS
log "4. hack/quickstart.sh down"
down_log=$(hack/quickstart.sh down 2>&1) || { echo "$down_log" >&2; fail "hack/quickstart.sh down"; }
echo "$down_log" >>"$root/bin/test-quickstart.log"
# down removes what Kargo left behind, and says so: Kargo's deletion of the
# Stacks and Promotions is what is tested here, not that safety net.
if grep -E "the delete left|warning:" <<<"$down_log" >&2; then
  fail "the manager did not remove the quickstart's Swarm objects (above)"
fi
left=$(quickstart_objects service)
[ -z "$left" ] || fail "services left after down: $left"
left=$(quickstart_objects network)
[ -z "$left" ] || fail "networks left after down: $left"
log "down in $((SECONDS - started)) s"
log "PASS"
