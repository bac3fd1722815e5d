#!/usr/bin/env bash
# tests/check_layers.sh: modules depend one way (docs/ARCHITECTURE.md, "Layout"):
#   cli, worker, api  ->  service  ->  queue, storage, audio, demucs (msaas/*.h), download
#                                  ->  common (header-only helpers every module may use)
#   launcher (the `msaas` command, which starts cli's program)  ->  common
# Each module's sources may include only the modules below it; the engine's internals
# (demucs/*.h) only from the engine itself. Prints every include that breaks this.
set -euo pipefail
cd "$(dirname "$0")/../src"
declare -A allowed=(
  [common]="common"
  [queue]="queue common"
  [storage]="storage common"
  [audio]="audio common"
  [demucs]="demucs msaas common"
  [download]="msaas common"
  [service]="service queue storage common"
  [api]="api service queue storage common"
  [worker]="worker service queue storage audio msaas common"
  [cli]="cli service queue storage audio msaas common"
  [launcher]="launcher common"
)
broken=0
for folder in */; do
  [ -n "${allowed[${folder%/}]:-}" ] || { echo "src/$folder: a module this check does not know"; broken=1; }
done
for module in "${!allowed[@]}"; do
  while IFS=: read -r file line text; do
    target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([a-z_]+)\/.*/\1/' <<<"$text")
    [[ -n "${allowed[$target]:-}" || "$target" == msaas ]] || continue  # a library's header
    if [[ " ${allowed[$module]} " != *" $target "* ]]; then
      echo "src/$file:$line: $module may not include $target ($text)"
      broken=1
    fi
  done < <(grep -rn --include='*.cpp' --include='*.h' -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][a-z_]+/' "$module" || true)
done
# The public headers include nothing of ours but each other.
if grep -n -E '^#include "' ../include/msaas/*.h | grep -v -E '"msaas/'; then broken=1; fi
[ "$broken" = 0 ] && echo "modules depend one way"
exit "$broken"
