#!/usr/bin/env bash
# tests/no_processes_left.sh BUILD_DIR: runs after every other test (a CTest cleanup fixture).
# Every process the tests start carries MSAAS_TEST_CHILD=<build dir> in its environment (set by
# tests/support.cpp, inherited by what those start); redis-server writes its process title over
# that memory, so an orphan working in a test's temporary folder counts too. Any still running
# after a short wait is named, ended, and fails this test, so a leak shows in the run that made
# it.
set -u
mark="MSAAS_TEST_CHILD=$1"
tmp_root="$(realpath "${TMPDIR:-/tmp}")"
left() {
  local dir state
  for dir in /proc/[0-9]*; do
    state="$(sed -n 's/^State:\t\(.\).*/\1/p' "$dir/status" 2>/dev/null)"
    [ -n "$state" ] && [ "$state" != Z ] || continue
    if { tr '\0' '\n' <"$dir/environ"; } 2>/dev/null | grep -qxF "$mark"; then
      echo "${dir#/proc/}"
    elif grep -q "^PPid:[[:space:]]1$" "$dir/status" 2>/dev/null &&
      readlink "$dir/cwd" 2>/dev/null | grep -q "^$tmp_root/msaas-test-"; then
      echo "${dir#/proc/}"
    fi
  done
}
for _ in $(seq 10); do
  [ -z "$(left)" ] && { echo "no test processes left"; exit 0; }
  sleep 0.5
done
# Ending one may orphan its own children: look again until none is left.
for _ in 1 2 3; do
  for pid in $(left); do
    echo "left running: $pid $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)"
    kill -KILL "$pid" 2>/dev/null
  done
  sleep 0.5
done
exit 1
