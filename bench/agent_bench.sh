#!/usr/bin/env bash
# The agent proposer against the one-shot LLM proposer, with the same scripted model: the loopback
# agent of tests/fake_agent.h (adrs-fake-agent). Its drafts are offline mutations of the parent,
# a share of them (--compile-error-rate) with a planted compile error. With tools it reads, evaluates
# its drafts, fixes the errors it is shown and submits the best of --variants scored drafts; without
# tools (proposer = "llm") it answers its first draft, errors included.
# Reports per proposer: candidates per minute, draft evaluations per candidate, and the share of
# proposed candidates that compile and beat their parent. A benchmark, not a test.
# Usage: bench/agent_bench.sh [build-dir] [runs-dir] [candidates] [compile-error-rate]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cpu}
runs=${2:-/tmp/adrs-agent-bench}
candidates=${3:-41}
rate=${4:-0.3}
rm -rf "$runs"
mkdir -p "$runs"
"$build/adrs-fake-agent" --port-file "$runs/port" --compile-error-rate "$rate" --variants 2 > "$runs/server.log" &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 100); do [ -s "$runs/port" ] && break; sleep 0.05; done
port=$(cat "$runs/port")
for proposer in llm agent; do
  sed -e "s/^proposer = .*/proposer = \"$proposer\"/" -e "s#127.0.0.1:18417#127.0.0.1:$port#" \
      -e "s/^max_candidates = .*/max_candidates = $candidates/" -e "s/^parallel = .*/parallel = 1/" \
      -e "s/^max_wall_s = 600/max_wall_s = 0/" runs/agent_demo.toml > "$runs/$proposer.toml"
  "$build/adrs" run --config "$runs/$proposer.toml" --name "$proposer" --runs-dir "$runs" --cache-dir "$runs/cache-$proposer" \
    --quiet --json > "$runs/$proposer.json"
done
python3 - "$runs" <<'PY'
import json, sqlite3, sys
runs = sys.argv[1]
print(f"{'proposer':9} {'candidates':>10} {'per minute':>10} {'drafts/cand':>11} {'compiled':>8} {'beat parent':>11} {'model turns/cand':>16}")
for proposer in ("llm", "agent"):
    db = sqlite3.connect(f"file:{runs}/{proposer}/run.db?mode=ro", uri=True)
    rows = db.execute("SELECT id, parent_id, status, failure, score FROM candidates WHERE id > 1").fetchall()
    score = dict(db.execute("SELECT id, score FROM candidates").fetchall())
    elapsed = float(db.execute("SELECT value FROM run_state WHERE key = 'elapsed_s'").fetchone()[0])
    drafts = db.execute("SELECT COALESCE(SUM(draft_evals), 0) FROM agent_turns").fetchone()[0] if db.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'agent_turns'").fetchone() else 0
    calls = db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0]
    n = len(rows)
    # compiled: scored, or failed only after compiling (crash, timeout, invalid mask); duplicates are left out
    compiled = sum(1 for r in rows if r[2] in ("evaluated", "filtered") or (r[2] == "failed" and r[3] != "compile_error" and not r[3].startswith("patch:") and r[3] != "proposer_error"))
    beat = sum(1 for r in rows if r[2] == "evaluated" and r[4] is not None and score.get(r[1]) is not None and r[4] > score[r[1]])
    print(f"{proposer:9} {n:>10} {60 * n / elapsed:>10.1f} {drafts / n:>11.2f} {compiled / n:>8.0%} {beat / n:>11.0%} {calls / n:>16.2f}")
PY
