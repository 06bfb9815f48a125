#!/usr/bin/env bash
# RNNsearch against the Transformer (make versus): on the demo's task, the paper's RNNsearch (additive
# attention, GRU) and the Transformer (d_model 64, d_ff 256, 2 + 2 layers, 4 heads), each trained for
# the same times on 2 threads, then scored on the same 1,000 test sentences: exact match, BLEU, AER of
# the attention against the gold alignments (the Transformer's: its last layer's heads averaged, and its
# best single head), steps per second, parameters. Writes BUILD/versus/results.md and a heatmap each.
#   usage: examples/translator/versus.sh [BUILD_DIR] [SECONDS...]     (default: 120 300 600)
set -euo pipefail
build=${1:-build}
shift || true
times=("$@")
[ ${#times[@]} -eq 0 ] && times=(120 300 600)
translator="$build/examples/translator/translator"
out="$build/versus"
mkdir -p "$out"

. "$(dirname "$0")/demo_task.sh"
demo_task "$translator" "$out" > /dev/null
# The Transformer's schedule is the paper's (warmup, then 1 / sqrt(step)); RNNsearch's the demo's.
rnnsearch=(--lr-decay linear)
transformer=(--arch transformer --model-dim 64 --ff-dim 256 --layers 2 --heads 4 --lr 2e-3 --warmup 500 --lr-decay inverse-sqrt)

table="| model | seconds | parameters | steps | steps/s | exact match | BLEU | AER | best head's AER |
|---|---|---|---|---|---|---|---|---|"
for seconds in "${times[@]}"; do
    for arch in rnnsearch transformer; do
        echo "== $arch-$seconds: training for ${seconds}s on 2 threads"
        flags="$arch[@]"
        demo_train_and_score "$translator" "$out" "$arch-$seconds" "$seconds" "${!flags}"
        head_aer=$(grep -o '"aer_best_head": {[^}]*}' <<<"$scores" | sed -E 's/.*"layer": ([0-9]+), "head": ([0-9]+), "aer": ([0-9.]+).*/\3 (layer \1, head \2)/' || true)
        rate=$(awk -v s="$steps" -v t="$seconds" 'BEGIN {printf "%.1f", s / t}')
        table+="
| $arch | $seconds | $parameters | $steps | $rate | $(exact_percent) | $(score bleu) | $(score aer) | ${head_aer:--} |"
        echo "   $(exact_percent) exact match, BLEU $(score bleu), AER $(score aer)"
    done
done
printf '# RNNsearch against the Transformer on the demo task\n\n%s\n\nHeatmaps of "%s": %s/*.svg\n' "$table" "$demo_sentence" "$out" > "$out/results.md"
cat "$out/results.md"
