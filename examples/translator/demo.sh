#!/usr/bin/env bash
# The translator demo (make demo): generate the default task, train RNNsearch for about two
# minutes on 2 cores, evaluate on the test split, translate a few sentences showing where the
# model attends, and draw alignment matrices like the paper's Figure 3.
#   usage: examples/translator/demo.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-110}
translator="$build/examples/translator/translator"
out="$build/demo"
mkdir -p "$out/attention"

. "$(dirname "$0")/demo_task.sh"
echo "== 1. data: task '$demo_task_name' ($("$translator" generate --list | grep "^$demo_task_name " | cut -c8-))"
demo_task "$translator" "$out"
echo "   e.g.  $(head -n 1 "$out/train.tsv" | cut -f1)"
echo "     ->  $(head -n 1 "$out/train.tsv" | cut -f2)"

echo "== 2. training RNNsearch for ${seconds}s on 2 threads"
rm -rf "$out/model"
# The rate falls to 0 over the time limit: the task is learnt within a few epochs, and afterwards
# Adam's steps at the full rate (their size does not shrink with the gradient) move the attention
# off the words it aligns, with the translations still right (docs/results.md: AER 0.16 -> 0.08).
"$translator" train --train "$out/train.tsv" --valid "$out/valid.tsv" --out "$out/model" \
    --epochs 1000 --time-limit "$seconds" --lr-decay linear --threads 2

echo "== 3. evaluation on the test split (sentences never seen in training)"
"$translator" eval --checkpoint "$out/model" --data "$out/test.tsv" --align "$out/test.align" --threads 2

echo "== 4. translations, and where the model looked (columns: source words; rows: the words it wrote)"
sentences=(
    "the big dog sees a cat near the house today"
    "every young woman does not like the old car"
    "this child paints a green tree with a small book but the man watches the river again"
)
printf '%s\n' "${sentences[@]}" | "$translator" translate --checkpoint "$out/model" --show-attention

echo "== 5. alignment matrices as SVG (like the paper's Figure 3)"
i=0
for s in "${sentences[@]}" "$(sed -n 5p "$out/test.tsv" | cut -f1)"; do
    i=$((i + 1))
    "$translator" attention --checkpoint "$out/model" --source "$s" --svg "$out/attention/sentence$i.svg" \
        --csv "$out/attention/sentence$i.csv" > /dev/null
done
echo "   wrote $i heatmaps to $out/attention/ (open the .svg files in a browser)"
