#!/usr/bin/env bash
# Runs a private single-node Docker Swarm for Kargo's tests: its own dockerd on
# its own socket, data-root and exec-root under a state dir, next to (and never
# touching) any system dockerd. Also imports kargo.local/busybox:1, built from
# Debian's busybox-static (no registry needed); its WORKDIR /www holds an
# index.html ("kargo"), so `httpd -f -p 8080` serves it.
#
#   eval "$(hack/swarm.sh up)"  start (idempotent); prints `export DOCKER_HOST=...`
#   hack/swarm.sh env|status|down   print that line | exit 0 if swarm active | stop, clean
#
# With --nodes N (N >= 2), the same commands run a Swarm of N nodes instead,
# under KARGO_SWARM_MULTI_DIR (default /tmp/kargo-swarm-multi), beside the
# single-node one: see multi_usage below.
set -euo pipefail

cmd=${1:-}
[ $# -eq 0 ] || shift
node_arg='' nodes=''
case $cmd in kill-node) node_arg=${1:-}; [ $# -eq 0 ] || shift ;; esac
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) nodes=${2:-}; [ $# -lt 2 ] || shift; shift ;;
    --nodes=*) nodes=${1#--nodes=}; shift ;;
    *) echo "swarm: unknown argument: $1" >&2; exit 2 ;;
  esac
done

dir=${KARGO_SWARM_DIR:-/tmp/kargo-swarm}
case $dir in /*) ;; *) echo "swarm: KARGO_SWARM_DIR must be absolute: $dir" >&2; exit 2 ;; esac
dir=${dir%/}
# Unix socket paths are limited to 107 bytes; the exec-root holds several.
if [ ${#dir} -le 40 ]; then exec_root=$dir/x
else exec_root=/tmp/kargo-swarm-exec-$(printf %s "$dir" | md5sum | cut -c1-8); fi
sock=$dir/docker.sock
pidfile=$dir/dockerd.pid
mark=$dir/.kargo-swarm # `down` removes only a dir that `up` marked
image=kargo.local/busybox:1
hash=$(printf %s "$dir" | md5sum | cut -c1-8)
cgroup=kargo-swarm-$hash
bridge=kargo-$hash
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

log() { echo "swarm: $*" >&2; }
die() { log "$*"; exit 1; }
dkr() { docker -H "unix://$sock" "$@"; }
# alive PID NAME: PID is a live (not zombie) process called NAME.
alive() {
  [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] &&
    [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
# host_dockerd PID: PID is a dockerd in our network namespace (the nodes of
# a multi-node swarm have their own iptables and docker_gwbridge).
host_dockerd() { alive "$1" dockerd && [ "$(readlink "/proc/$1/ns/net")" = "$(readlink /proc/self/ns/net)" ]; }
pid() { cat "$pidfile" 2>/dev/null || true; }
answering() { timeout 10 docker -H "unix://$sock" info >/dev/null 2>&1; }
swarm_active() {
  [ "$(timeout 10 docker -H "unix://$sock" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]
}
print_env() { echo "export DOCKER_HOST=unix://$sock"; }

install_deps() {
  # busybox-static: the image has no libc, so Debian's dynamic busybox won't do.
  command -v dockerd >/dev/null && command -v docker >/dev/null && command -v ip >/dev/null &&
    dpkg -s busybox-static >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || die "docker.io, busybox-static or iproute2 missing and not root"
  log "installing Debian's docker.io, busybox-static and iproute2"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static iproute2 >&2
}

start_dockerd() {
  [ "$(id -u)" = 0 ] || die "dockerd needs root"
  [ -e "$mark" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ] || die "$dir is not empty and not ours"
  mkdir -p "$dir/data" "$exec_root" && touch "$mark"
  rm -f "$pidfile" "$sock"
  # Own default bridge instead of docker0, which a system dockerd may use.
  # (Not --bridge=none: dockerd then deletes docker0, and swarm tasks without
  # networks, e.g. with mode=host published ports, get no network at all.)
  ip link show "$bridge" >/dev/null 2>&1 || ip link add name "$bridge" type bridge
  # With iptables on, dockerd flushes the shared DOCKER chains at start, which
  # would drop another dockerd's port mappings: then go without (no ingress
  # routing mesh; mode=host ports still work through docker-proxy).
  local c iptables=
  for c in /proc/[0-9]*; do host_dockerd "${c#/proc/}" && iptables=--iptables=false && break; done
  [ -z "$iptables" ] || log "another dockerd runs (pid ${c#/proc/}): using $iptables"
  log "starting dockerd on $sock (log: $dir/dockerd.log)"
  # Own containerd namespaces and cgroup parent: dockerd uses a system
  # containerd if /run/containerd/containerd.sock exists.
  setsid nohup dockerd --host "unix://$sock" --data-root "$dir/data" \
    --exec-root "$exec_root" --pidfile "$pidfile" --bridge="$bridge" \
    --containerd-namespace kargo-swarm --containerd-plugins-namespace kargo-swarm-plugins \
    --cgroup-parent "/$cgroup" $iptables ${KARGO_SWARM_DOCKERD_FLAGS:-} \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  local p=$!
  for _ in $(seq 60); do
    answering && return
    alive "$p" dockerd || { tail -n 20 "$dir/dockerd.log" >&2; die "dockerd exited"; }
    sleep 1
  done
  tail -n 20 "$dir/dockerd.log" >&2
  die "dockerd did not answer on $sock within 60s"
}

build_image() {
  dkr image inspect "$image" >/dev/null 2>&1 && return
  log "importing $image from /bin/busybox"
  local applet
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,www,root} && chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ -e "$rootfs/$applet" ] || [ "$applet" = linuxrc ] || ln -s /bin/busybox "$rootfs/$applet"
  done
  echo kargo >"$rootfs/www/index.html"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | dkr import --change 'CMD ["sh"]' --change 'WORKDIR /www' - "$image" >/dev/null
  rm -rf "$rootfs"
}

up() {
  install_deps
  if alive "$(pid)" dockerd; then
    for _ in $(seq 60); do answering && break; sleep 1; done
    answering || die "dockerd $(pid) runs but does not answer on $sock; try: $0 down"
  else
    start_dockerd
  fi
  if ! swarm_active; then
    log "initialising swarm"
    dkr swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null ||
      die "swarm init failed (127.0.0.1:2377 taken by another swarm?); see $dir/dockerd.log"
  fi
  build_image
  print_env
}

# kill_wait PID NAME SECONDS: SIGTERM, then SIGKILL after SECONDS.
kill_wait() {
  alive "$1" "$2" || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq "$3"); do alive "$1" "$2" || return 0; sleep 1; done
  log "$2 $1 did not stop in $3s; killing it"
  kill -KILL "$1" 2>/dev/null || true
  sleep 1
}

down() {
  local p c b t gw=docker_gwbridge
  [ ! -d "$dir" ] || [ -e "$mark" ] || die "refusing to clean $dir: no $mark"
  p=$(pid)
  if alive "$p" dockerd; then
    answering && { dkr swarm leave --force >/dev/null 2>&1 || true; }
    log "stopping dockerd $p"
    kill_wait "$p" dockerd 30
  fi
  # Only after an unclean stop: the containerd dockerd started, its shims, and
  # their containers (all identified by our exec-root or cgroup parent).
  kill_wait "$(cat "$exec_root/containerd/containerd.pid" 2>/dev/null || true)" containerd 10
  for c in /proc/[0-9]*; do
    { tr '\0' ' ' <"$c/cmdline"; } 2>/dev/null | grep -q -- "-address $exec_root/" &&
      kill_wait "${c#/proc/}" containerd-shim 5
  done
  for c in $(find /sys/fs/cgroup -path "*/$cgroup/*" -name cgroup.procs 2>/dev/null); do
    xargs -r kill -KILL <"$c" 2>/dev/null || true
  done
  find /sys/fs/cgroup -depth -type d -path "*/$cgroup*" -exec rmdir {} + 2>/dev/null || true
  # Unmount deepest first: overlays, shm, netns bind mounts.
  awk -v a="$dir/" -v b="$exec_root/" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir" "$exec_root"
  # Our bridges and dockerd's rules for them; docker_gwbridge's name is fixed,
  # so leave it to another dockerd if one runs.
  for c in /proc/[0-9]*; do host_dockerd "${c#/proc/}" && gw= && break; done
  for b in "$bridge" $gw; do
    ip link del "$b" 2>/dev/null || true
    for t in filter nat; do
      iptables -t $t -S 2>/dev/null | grep -- " $b " | sed 's/^-A/-D/' |
        while read -r r; do eval "iptables -t $t $r" || true; done
    done
  done
  log "down"
}

# ---- Multi-node Swarm (--nodes N) ----
# N dockerd, each in its own network namespace (ks<hash>n<i>) with its own
# hostname (kargo-node<i>, through unshare --uts), joined by a bridge
# (ks<hash>b) that has no address on the host: node i is <subnet>.<10+i> on
# a /24 that overlaps no address or route of the host, and the host never
# sends IP traffic to it (the tests reach every dockerd by its unix socket).
# Node 1 is the manager, the others workers; every node holds $image.
# State under $dir/n<i> (data-root, exec-root, socket, pidfile, log).
#
#   eval "$(hack/swarm.sh up --nodes 3)"   start or repair (idempotent); prints
#                                          `export DOCKER_HOST=<manager socket>`
#   hack/swarm.sh env|host|status|down --nodes 3
#   hack/swarm.sh kill-node I --nodes 3    SIGKILL node I's dockerd (a crashed
#                                          engine); `up --nodes 3` restarts it
multi_usage() {
  echo "usage: $0 up|down|env|host|status --nodes N; $0 kill-node I --nodes N (N >= 2)" >&2
  exit 2
}

multi_vars() {
  dir=${KARGO_SWARM_MULTI_DIR:-/tmp/kargo-swarm-multi}
  case $dir in /*) ;; *) die "KARGO_SWARM_MULTI_DIR must be absolute: $dir" ;; esac
  dir=${dir%/}
  # Unix sockets live under $dir/n<i>/x: keep their paths short.
  [ ${#dir} -le 36 ] || die "KARGO_SWARM_MULTI_DIR must be at most 36 bytes: $dir"
  mark=$dir/.kargo-swarm
  hash=$(printf %s "$dir" | md5sum | cut -c1-8)
  mbridge=ks${hash}b # interface names: at most 15 bytes
  fwtag="kargo-swarm-multi-$hash"
}

# use_node I: dkr, answering, swarm_active and build_image act on node I.
use_node() { sock=$dir/n$1/docker.sock; pidfile=$dir/n$1/dockerd.pid; }
node_ns() { echo "ks${hash}n$1"; }
node_ip() { echo "$(cat "$dir/subnet").$((10 + $1))"; }
swarm_state() { timeout 10 docker -H "unix://$sock" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true; }

# shellcheck disable=SC2086 # split a.b.c.d on the dots
ip2int() { local IFS=.; set -- $1; echo $(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 )); }

# free_subnet prints a.b.c of a /24 in 10.213.0.0/16 that overlaps no
# address or route of the host (all tables).
free_subnet() {
  local used n net len c k x m
  used=$({ ip -4 -o addr show | awk '{print $4}'
    ip -4 route show table all | awk '{for (i = 1; i <= 2; i++) if ($i ~ /^[0-9.]+(\/[0-9]+)?$/) {print $i; break}}'; } | sort -u)
  x=$((16#${hash:0:2}))
  for k in $(seq 0 255); do
    c=$(ip2int "10.213.$(((x + k) % 256)).0")
    for n in $used; do
      net=${n%/*}; len=${n#*/}; [ "$len" != "$n" ] || len=32
      ((len < 24)) || len=24
      m=$(( (0xffffffff << (32 - len)) & 0xffffffff ))
      (( (c & m) == ($(ip2int "$net") & m) )) && continue 2
    done
    echo "10.213.$(((x + k) % 256))"
    return
  done
  die "no free /24 in 10.213.0.0/16"
}

no_ipv6() { [ ! -w "/proc/sys/net/ipv6/conf/$1/disable_ipv6" ] || echo 1 >"/proc/sys/net/ipv6/conf/$1/disable_ipv6"; }

# multi_network creates what is missing of the bridge, the namespaces and
# their links; bridged traffic passes the host's FORWARD chain when
# br_netfilter is loaded, where dockerd's policy is DROP: one ACCEPT rule
# for this bridge only.
multi_network() {
  local i ns veth
  if ! ip link show "$mbridge" >/dev/null 2>&1; then
    ip link add name "$mbridge" type bridge
    no_ipv6 "$mbridge"
  fi
  ip link set "$mbridge" up
  iptables -C FORWARD -i "$mbridge" -o "$mbridge" -m comment --comment "$fwtag" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD -i "$mbridge" -o "$mbridge" -m comment --comment "$fwtag" -j ACCEPT
  for i in $(seq "$nodes"); do
    ns=$(node_ns "$i") veth=ks${hash}v$i
    [ -e "/var/run/netns/$ns" ] || ip netns add "$ns"
    ip -n "$ns" link show eth0 >/dev/null 2>&1 && continue
    ip link del "$veth" 2>/dev/null || true
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    no_ipv6 "$veth"
    ip link set "$veth" master "$mbridge" up
    ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6' 2>/dev/null || true
    ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
  done
}

# start_node I starts node I's dockerd in its namespace, under its hostname.
start_node() {
  local i=$1 nd=$dir/n$1
  mkdir -p "$nd/data" "$nd/x"
  rm -f "$nd/dockerd.pid" "$nd/docker.sock"
  # After a crash: dockerd waits for a containerd its pidfile names if that
  # pid exists at all (a zombie not yet reaped), so that one must go.
  kill_wait "$(cat "$nd/x/containerd/containerd.pid" 2>/dev/null || true)" containerd 10
  rm -f "$nd/x/containerd/containerd.pid"
  # Our own config file: /etc/docker/daemon.json may set hosts or a data root.
  [ -e "$nd/daemon.json" ] || echo '{}' >"$nd/daemon.json"
  log "starting node $i: dockerd on $nd/docker.sock (log: $nd/dockerd.log)"
  # nsenter, not `ip netns exec`, which remounts /sys and hides the cgroup
  # mounts from dockerd. nsenter, unshare and sh exec: $! is dockerd's pid.
  # Its own iptables and default bridge live in the namespace.
  # shellcheck disable=SC2016,SC2086 # $1 is sh's; the flags are words
  setsid nohup nsenter "--net=/var/run/netns/$(node_ns "$i")" unshare --uts \
    sh -c 'hostname "$1" && shift && exec "$@"' sh "kargo-node$i" \
    dockerd --config-file "$nd/daemon.json" --host "unix://$nd/docker.sock" \
    --data-root "$nd/data" --exec-root "$nd/x" --pidfile "$nd/dockerd.pid" \
    --containerd-namespace "kargo-$hash-n$i" --containerd-plugins-namespace "kargo-$hash-n$i-plugins" \
    --cgroup-parent "/kargo-swarm-$hash-n$i" ${KARGO_SWARM_DOCKERD_FLAGS:-} \
    </dev/null >>"$nd/dockerd.log" 2>&1 &
  echo $! >"$nd/starting.pid"
}

# wait_node I waits until node I's dockerd answers.
wait_node() {
  local p
  use_node "$1"
  p=$(cat "$dir/n$1/starting.pid" 2>/dev/null || pid)
  for _ in $(seq 90); do
    answering && { rm -f "$dir/n$1/starting.pid"; return; }
    if [ ! -d "/proc/$p" ] || [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$p/stat" 2>/dev/null)" = Z ]; then
      tail -n 20 "$dir/n$1/dockerd.log" >&2
      die "node $1: dockerd exited"
    fi
    sleep 1
  done
  tail -n 20 "$dir/n$1/dockerd.log" >&2
  die "node $1: dockerd did not answer on $sock within 90s"
}

# multi_swarm makes node 1 the manager and the others its workers; a node
# that restarts with its swarm state rejoins by itself.
multi_swarm() {
  local i state token mgr
  mgr=$(node_ip 1)
  use_node 1
  for _ in $(seq 30); do state=$(swarm_state); [ "$state" = pending ] || break; sleep 1; done
  case $state in
    active) ;;
    inactive)
      log "initialising swarm on node 1 ($mgr)"
      dkr swarm init --advertise-addr "$mgr" --listen-addr "$mgr:2377" >/dev/null ;;
    *) die "node 1: swarm state $state; start afresh with: $0 down --nodes $nodes" ;;
  esac
  token=$(dkr swarm join-token -q worker)
  for i in $(seq 2 "$nodes"); do
    use_node "$i"
    for _ in $(seq 30); do state=$(swarm_state); [ "$state" = pending ] || break; sleep 1; done
    case $state in
      active) continue ;;
      inactive) ;;
      *) dkr swarm leave --force >/dev/null 2>&1 || true ;;
    esac
    log "joining node $i ($(node_ip "$i")) as a worker"
    dkr swarm join --token "$token" --advertise-addr "$(node_ip "$i")" --listen-addr "$(node_ip "$i"):2377" "$mgr:2377" >/dev/null
  done
}

# nodes_ready: the manager lists each hostname kargo-node1..N once, ready.
nodes_ready() {
  local want got
  want=$(seq -f 'kargo-node%g ready' "$nodes" | sort)
  got=$(timeout 10 docker -H "unix://$dir/n1/docker.sock" node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null |
    tr '[:upper:]' '[:lower:]' | sort)
  [ "$want" = "$got" ]
}

multi_up() {
  local i recorded
  case $nodes in ''|*[!0-9]*|[01]) multi_usage ;; esac
  install_deps
  [ "$(id -u)" = 0 ] || die "dockerd needs root"
  [ -e "$mark" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ] || die "$dir is not empty and not ours"
  recorded=$(cat "$dir/nodes" 2>/dev/null || true)
  if [ -n "$recorded" ] && [ "$recorded" != "$nodes" ]; then
    die "$dir holds a swarm of $recorded nodes: $0 down --nodes $recorded first"
  fi
  mkdir -p "$dir" && touch "$mark"
  echo "$nodes" >"$dir/nodes"
  [ -s "$dir/subnet" ] || free_subnet >"$dir/subnet"
  multi_network
  for i in $(seq "$nodes"); do
    use_node "$i"
    alive "$(pid)" dockerd || start_node "$i"
  done
  for i in $(seq "$nodes"); do wait_node "$i"; done
  multi_swarm
  # A node that left and joined again is listed twice, once down.
  use_node 1
  for i in $(dkr node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' |
    awk 'tolower($3) == "ready" {up[$2] = 1} tolower($3) == "down" {down[$1] = $2}
      END {for (id in down) if (down[id] in up) print id}'); do
    dkr node rm --force "$i" >/dev/null
  done
  for _ in $(seq 60); do nodes_ready && break; sleep 1; done
  nodes_ready || { dkr node ls >&2; die "not every node is ready; start afresh with: $0 down --nodes $nodes"; }
  for i in $(seq "$nodes"); do use_node "$i"; build_image; done
  use_node 1
  print_env
}

multi_down() {
  local nd p i ns c r
  [ ! -d "$dir" ] || [ -e "$mark" ] || die "refusing to clean $dir: no $mark"
  for nd in "$dir"/n*/; do
    [ -d "$nd" ] || continue
    p=$(cat "$nd/dockerd.pid" 2>/dev/null || true)
    ! alive "$p" dockerd || kill -TERM "$p" 2>/dev/null || true
  done
  for nd in "$dir"/n*/; do
    [ -d "$nd" ] || continue
    nd=${nd%/}
    kill_wait "$(cat "$nd/dockerd.pid" 2>/dev/null || true)" dockerd 30
    kill_wait "$(cat "$nd/x/containerd/containerd.pid" 2>/dev/null || true)" containerd 10
    for c in /proc/[0-9]*; do
      { tr '\0' ' ' <"$c/cmdline"; } 2>/dev/null | grep -q -- "-address $nd/x/" &&
        kill_wait "${c#/proc/}" containerd-shim 5
    done
  done
  find /sys/fs/cgroup -path "*/kargo-swarm-$hash-n*" -name cgroup.procs 2>/dev/null |
    while read -r c; do xargs -r kill -KILL <"$c" 2>/dev/null || true; done
  find /sys/fs/cgroup -depth -type d -path "*/kargo-swarm-$hash-n*" -exec rmdir {} + 2>/dev/null || true
  for ns in $(ip netns list | awk -v p="ks${hash}n" 'index($1, p) == 1 {print $1}'); do
    # Whatever still runs in the namespace: a dockerd that escaped its pidfile.
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  done
  awk -v a="$dir/" 'index($2, a) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r c; do umount -l "$c" 2>/dev/null || true; done
  rm -rf "$dir"
  for ns in $(ip netns list | awk -v p="ks${hash}n" 'index($1, p) == 1 {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  for i in $(ip -o link show | awk -F': ' -v p="ks${hash}" 'index($2, p) == 1 {sub(/@.*/, "", $2); print $2}'); do
    ip link del "$i" 2>/dev/null || true
  done
  iptables -S FORWARD 2>/dev/null | grep -F -- "$fwtag" | sed 's/^-A/-D/' |
    while read -r r; do eval "iptables $r" || true; done
  log "down"
}

multi_main() {
  multi_vars
  case $cmd in
    up) multi_up ;;
    down) multi_down ;;
    env|host)
      [ -n "$nodes" ] || multi_usage
      use_node 1
      { alive "$(pid)" dockerd && answering; } || die "not running; start it with: $0 up --nodes $nodes"
      if [ "$cmd" = env ]; then print_env; else echo "unix://$sock"; fi ;;
    status)
      [ -n "$nodes" ] || multi_usage
      use_node 1
      alive "$(pid)" dockerd && answering && swarm_active && nodes_ready ;;
    kill-node)
      case $node_arg in ''|*[!0-9]*) multi_usage ;; esac
      use_node "$node_arg"
      alive "$(pid)" dockerd || die "node $node_arg: no dockerd runs"
      # The engine crashes, dockerd and containerd; the containers' shims
      # live on, as after a real crash, until the restarted engine stops them.
      log "killing node $node_arg: dockerd $(pid)"
      kill -KILL "$(pid)" "$(cat "$dir/n$node_arg/x/containerd/containerd.pid" 2>/dev/null || pid)" 2>/dev/null || true
      for _ in $(seq 20); do alive "$(pid)" dockerd || exit 0; sleep 0.5; done
      die "node $node_arg: dockerd $(pid) still runs" ;;
    *) multi_usage ;;
  esac
}

if [ -n "$nodes" ] || [ "$cmd" = kill-node ]; then
  multi_main
  exit
fi
case $cmd in
  up) up ;;
  down) down ;;
  env) alive "$(pid)" dockerd && answering || die "not running; start it with: $0 up"; print_env ;;
  host) alive "$(pid)" dockerd && answering || die "not running; start it with: $0 up"; echo "unix://$sock" ;;
  status) alive "$(pid)" dockerd && answering && swarm_active ;;
  *) echo "usage: $0 up|down|env|host|status [--nodes N]; $0 kill-node I --nodes N" >&2; exit 2 ;;
esac
