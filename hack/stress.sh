#!/usr/bin/env bash
# Keeps every core busy while a command runs, to prove the tests do not
# depend on an idle machine: one busy loop per core (nproc), each stopped
# after at most STRESS_SECONDS (default 3600) or when the command ends.
#
#   hack/stress.sh make test
#   STRESS_SECONDS=600 hack/stress.sh   # only the hogs, for 10 minutes
set -euo pipefail

seconds=${STRESS_SECONDS:-3600}
cores=$(nproc)
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq "$cores"); do
  timeout "$seconds" sh -c 'while :; do :; done' &
  pids+=($!)
done
echo "stress: $cores busy loop(s) for at most ${seconds}s" >&2
if (($#)); then
  "$@"
else
  wait
fi
