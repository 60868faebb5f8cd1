#!/usr/bin/env bash
# The attention targets, one command at a time, each as a user runs it (default
# settings, its own process). Prints `uptime` before each (the machine's load changes wall
# times) and keeps each command's output (its last line is the metrics JSON) in $LOG_DIR.
#   bash bench/attention_targets.sh            # all
#   bash bench/attention_targets.sh 1 2        # only targets 1 and 2
# Targets (2 cores): 1 >= 99% held-out exact in at most half the training seconds of 2;
# 3 >= 95% on lengths 3-30 within 600 s (570 s of training: evaluations are not counted); 5 >= 99.5% within 300 s. 2, 4: the same without
# attention, for comparison; 1 and 2 also report lengths 13-20 (never trained on).
set -uo pipefail
LOG_DIR=${LOG_DIR:-${TMPDIR:-/tmp}/tinyrnn_attention_logs}
mkdir -p "$LOG_DIR"
declare -A CMD=(
  [1]="tinyrnn seq2seq train --task reverse --attention additive --test-lengths 13-20 --json --quiet"
  [2]="tinyrnn seq2seq train --task reverse --attention none --test-lengths 13-20 --json --quiet"
  [3]="tinyrnn seq2seq train --task reverse --max-len 30 --attention additive --time-budget 570 --json --quiet"
  [4]="tinyrnn seq2seq train --task reverse --max-len 30 --attention none --time-budget 570 --json --quiet"
  [5]="tinyrnn seq2seq train --task add --attention additive --json --quiet"
)
for i in "${@:-1 2 3 4 5}"; do
  for n in $i; do
    echo "== target $n: ${CMD[$n]}"
    echo "   load: $(uptime)"
    ${CMD[$n]} | tee "$LOG_DIR/target$n.log" | grep -v '^{'
    python - "$LOG_DIR/target$n.log" <<'PY'
import json, sys
m = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
extra = m.get("test_lengths")
print(f"   {m['steps']} steps, {m['train_seconds']} s wall, {m['train_cpu_seconds']} s CPU, "
      f"held-out exact {100 * m['accuracy']:.2f}%"
      + (f"; lengths {extra['low']}-{extra['high']}: {100 * extra['accuracy']:.1f}%" if extra else ""))
PY
  done
done
