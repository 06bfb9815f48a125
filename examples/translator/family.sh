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
sentence="this child paints a green tree with a small book but the man watches the river again"

table="| cell | attention | parameters | steps in ${seconds} s | exact match | BLEU | chrF2 | AER |
|---|---|---|---|---|---|---|---|"
for variant in gru:additive gru:dot gru:general gru:scaled_dot gru:multi_head lstm:additive; do
    cell=${variant%%:*}
    attention=${variant#*:}
    name="$cell-$attention"
    echo "== $name: training for ${seconds}s on 2 threads"
    rm -rf "$out/$name"
    log=$("$translator" train --train "$out/train.tsv" --valid "$out/valid.tsv" --out "$out/$name" --cell "$cell" \
        --attention "$attention" --epochs 1000 --time-limit "$seconds" --lr-decay linear --threads 2 2>&1 | tr '\r' '\n')
    parameters=$(grep -o '[0-9]* parameters' <<<"$log" | head -1 | cut -d' ' -f1)
    steps=$(grep -o 'after [0-9]* steps' <<<"$log" | tail -1 | cut -d' ' -f2)
    scores=$("$translator" eval --checkpoint "$out/$name" --data "$out/test.tsv" --align "$out/test.align" --json --threads 2)
    # the whole test set's figures: those before "by_length" (each length bucket has its own after it)
    field() { sed -E "s/\"by_length\".*//; s/\"aer_best_head\": \{[^}]*\}//; s/.*\"$1\": ([0-9.]+).*/\1/" <<<"$scores"; }
    exact=$(awk -v x="$(field exact_match)" 'BEGIN {printf "%.1f%%", 100 * x}')
    table+="
| $cell | $attention | $parameters | $steps | $exact | $(field bleu) | $(field chrf) | $(field aer) |"
    "$translator" attention --checkpoint "$out/$name" --source "$sentence" --svg "$out/$name.svg" > /dev/null
    echo "   $exact exact match, BLEU $(field bleu), AER $(field aer)"
done
printf '# The attention family on the demo task\n\n%s\n\nHeatmaps of "%s": %s/*.svg\n' "$table" "$sentence" "$out" > "$out/results.md"
cat "$out/results.md"
