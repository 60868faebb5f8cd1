#!/usr/bin/env bash
# The targets of docs/memory.md (Targets), run one at a time with the commands' defaults.
# Each prints its metrics as JSON on the last line; "seconds" is training time (evaluations excluded).
#   adding --cell lstm --T 100 : solved_fraction >= 0.99 and test_mse < 0.01 within 300 s
#   order --cell lstm          : test_accuracy >= 0.99 within 300 s
#   copy --cell gru --T 50     : test_ce < 10 % of baseline within 300 s
# Reported, no target: adding with gru and irnn at T = 100, the tanh rnn at T = 100 and 200, copy at T = 100,
# the 1997 adding problem (--variant hochreiter) with the lstm at T = 100.
# Usage: bench/memory_targets.sh [all|targets]   (default: targets)
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo "== tinyrnn $* (load: $(cut -d' ' -f1-3 /proc/loadavg))"; tinyrnn "$@" --quiet --json | tail -n 1; }
run memory adding --cell lstm --T 100
run memory order --cell lstm
run memory copy --cell gru --T 50
if [ "${1:-targets}" = all ]; then
    run memory adding --cell gru --T 100
    run memory adding --cell irnn --T 100
    run memory adding --cell rnn --T 100
    run memory adding --cell rnn --T 200
    run memory copy --cell gru --T 100
    run memory adding --variant hochreiter --cell lstm --T 100
fi
