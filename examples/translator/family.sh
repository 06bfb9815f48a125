#!/usr/bin/env bash
# The attention family side by side (make family): on the demo's task, each score function with the
# GRU, and the paper's additive attention with the LSTM, trained for the same time on 2 threads, then
# scored on the same 1,000 test sentences (exact match, BLEU, chrF2, AER of the attention against the
# gold alignments) and drawn on the same sentence. Writes BUILD/family/results.md and one SVG each.
#   usage: examples/translator/family.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-120}
translator="$build/examples/translator/translator"
out="$build/family"
mkdir -p "$out"

. "$(dirname "$0")/demo_task.sh"
demo_task "$translator" "$out" > /dev/null

table="| cell | attention | parameters | steps in ${seconds} s | exact match | BLEU | chrF2 | AER |
|---|---|---|---|---|---|---|---|"
for variant in gru:additive gru:dot gru:general gru:scaled_dot gru:multi_head lstm:additive; do
    cell=${variant%%:*}
    attention=${variant#*:}
    echo "== $cell-$attention: training for ${seconds}s on 2 threads"
    demo_train_and_score "$translator" "$out" "$cell-$attention" "$seconds" --cell "$cell" --attention "$attention" --lr-decay linear
    table+="
| $cell | $attention | $parameters | $steps | $(exact_percent) | $(score bleu) | $(score chrf) | $(score aer) |"
    echo "   $(exact_percent) exact match, BLEU $(score bleu), AER $(score aer)"
done
printf '# The attention family on the demo task\n\n%s\n\nHeatmaps of "%s": %s/*.svg\n' "$table" "$demo_sentence" "$out" > "$out/results.md"
cat "$out/results.md"
