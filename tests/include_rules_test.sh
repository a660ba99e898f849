#!/usr/bin/env bash
# Checks the include rules of docs/ARCHITECTURE.md: which folder's files may include which. Every
# `#include "folder/..."` of a project file is checked against the allow list of the file's
# folder; a line in KNOWN lists the few crossings that remain (each with the reason it is still
# there) so that the test fails on any new one. Usage: tests/include_rules_test.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# folder -> the folders its files may include (besides its own). Dependencies point one way:
#   util <- evaluator <- kernels (through the backend registry); the driver's parts in the order
#   patch <- propose <- run <- llm <- report <- cli, each also allowed util and (where it
#   scores) evaluator. masker_template/ is the masker API the evaluator checks against.
declare -A ALLOWED=(
  [util]=""
  [evaluator]="util masker_template"
  [kernels]="evaluator util masker_template"
  [driver/patch]="util"
  [driver/propose]="driver/patch util"
  [driver/run]="driver/propose driver/patch evaluator util"
  [driver/llm]="driver/run driver/propose driver/patch evaluator util"
  [driver/report]="driver/run driver/propose driver/patch evaluator util"
  [driver/cli]="driver/report driver/llm driver/run driver/propose driver/patch evaluator util"
  [tests]="*"
  [bench]="*"
)

# Crossings still to remove: "including-file included-file".
KNOWN=(
  "driver/run/run_report.cc driver/report/report_data.h"
  "driver/run/run_session.cc driver/llm/llm_proposer.h" # the LLM factory fallback; main sets it
  "driver/run/run_session.cc driver/llm/agent_proposer.h"  # the agent proposer: a factory like the LLM one
  "driver/propose/llm_proposer_factory.cc driver/llm/llm_proposer.h"  # belongs in llm/
)

folder_of() {
  case "$1" in
    driver/*) echo "$1" | cut -d/ -f1-2 ;;
    *) echo "${1%%/*}" ;;
  esac
}

violations=0
while IFS= read -r file; do
  from=$(folder_of "$file")
  [[ -v ALLOWED[$from] ]] || continue
  allowed=" $from ${ALLOWED[$from]} "
  [[ "$file" == *_test.cc ]] && allowed+="tests "  # a unit test beside its module uses the test helpers
  [[ "$allowed" == *" * "* ]] && continue
  while IFS= read -r included; do
    [[ "$included" == */* ]] || continue  # a system or same-folder header named bare
    to=$(folder_of "$included")
    [[ -d "$to" ]] || continue               # <CLI/CLI.hpp>-style names of libraries
    [[ "$allowed" == *" $to "* ]] && continue
    known=0
    for k in "${KNOWN[@]}"; do [[ "$k" == "$file $included" ]] && known=1; done
    if (( known )); then
      echo "known: $file includes $included" >&2
    else
      echo "include rule broken: $file ($from) includes $included ($to); $from may include: ${ALLOWED[$from]:-nothing} (docs/ARCHITECTURE.md)"
      violations=$((violations + 1))
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find util evaluator kernels driver -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort)

# Every known crossing must still exist, so the list shrinks as they are removed.
for k in "${KNOWN[@]}"; do
  set -- $k
  if ! grep -q "#include \"$2\"" "$1" 2>/dev/null; then
    echo "stale entry in KNOWN (the include is gone; delete the line): $k"
    violations=$((violations + 1))
  fi
done

if (( violations )); then
  echo "$violations include rule violation(s)"
  exit 1
fi
echo "include rules hold"
