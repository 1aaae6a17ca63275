#!/usr/bin/env bash
# Runs a private single-node Docker Swarm for Kargo's tests: its own dockerd on
# its own socket, data-root and exec-root under a state dir, next to (and never
# touching) any system dockerd. Also imports kargo.local/busybox:1, built from
# Debian's busybox-static (no registry needed); its WORKDIR /www holds an
# index.html ("kargo"), so `httpd -f -p 8080` serves it.
#
#   eval "$(hack/swarm.sh up)"  start (idempotent); prints `export DOCKER_HOST=...`
#   hack/swarm.sh env|status|down   print that line | exit 0 if swarm active | stop, clean
set -euo pipefail

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
  for c in /proc/[0-9]*; do alive "${c#/proc/}" dockerd && iptables=--iptables=false && break; done
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
  for c in /proc/[0-9]*; do alive "${c#/proc/}" dockerd && gw= && break; done
  for b in "$bridge" $gw; do
    ip link del "$b" 2>/dev/null || true
    for t in filter nat; do
      iptables -t $t -S 2>/dev/null | grep -- " $b " | sed 's/^-A/-D/' |
        while read -r r; do eval "iptables -t $t $r" || true; done
    done
  done
  log "down"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  env) alive "$(pid)" dockerd && answering || die "not running; start it with: $0 up"; print_env ;;
  host) alive "$(pid)" dockerd && answering || die "not running; start it with: $0 up"; echo "unix://$sock" ;;
  status) alive "$(pid)" dockerd && answering && swarm_active ;;
  *) echo "usage: $0 up|down|env|host|status" >&2; exit 2 ;;
esac
