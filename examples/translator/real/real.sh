#!/usr/bin/env bash
# The real-language demo (make real): English -> Spanish on real sentences, with subword units.
#   1. the corpus: WordNet's usage examples (English written by its lexicographers) translated by
#      Apertium (Spanish written by a rule-based system: the model learns to imitate Apertium);
#   2. RNNsearch trained with SentencePiece subwords for about ten minutes on 2 cores;
#   3. BLEU on the held-out test split, as sacreBLEU reports it (detokenized, 13a), of the best
#      checkpoint and of the last three validations' checkpoints averaged (translator average);
#   4. a few translations with their attention, and heatmaps over words.
# With ARCH transformer, the Transformer instead (d_model 256, d_ff 1024, 3 + 3 layers, 4 heads, the
# paper's schedule), in BUILD/real/transformer, on the same data (make real-transformer).
#   usage: examples/translator/real/real.sh [BUILD_DIR] [SECONDS] [ARCH]
set -euo pipefail
build=${1:-build}
seconds=${2:-600}
arch=${3:-rnnsearch}
here=$(cd "$(dirname "$0")" && pwd)
translator="$build/examples/translator/translator"
out="$build/real"
mkdir -p "$out/attention"
# shellcheck source=settings.sh
source "$here/settings.sh"

echo "== 1. corpus: WordNet 3.0's usage examples of 3-20 words, translated by Apertium (eng-spa)"
real_corpus "$here" "$out/data"
echo "   e.g.  $(sed -n 2p "$out/data/train.tsv" | cut -f1)"
echo "     ->  $(sed -n 2p "$out/data/train.tsv" | cut -f2)"

model="$out/model"
sizes=("${real_rnnsearch[@]}" --attn 128)
if [ "$arch" = transformer ]; then
    model="$out/transformer"
    sizes=(--arch transformer --model-dim 256 --ff-dim 1024 --layers 3 --heads 4 --dropout 0.1 --lr 1e-3 --warmup 1000
           --lr-decay inverse-sqrt --label-smoothing 0.1)
fi
echo "== 2. training $arch on subword units for ${seconds}s on 2 threads"
rm -rf "$model".step-*  # the checkpoints an earlier make real kept for averaging
"$translator" train --train "$out/data/train.tsv" --valid "$out/data/valid.tsv" --out "$model" \
    --subwords $real_subwords "${sizes[@]}" \
    --epochs 1000 --time-limit "$seconds" --threads 2 --force \
    --valid-every 1000 --keep-last 3  # (a model of an earlier make real is replaced)

echo "== 3. BLEU on the test split (sentences never seen in training; detokenized, 13a as sacreBLEU)"
for beam in 1 5; do
    start=$(date +%s.%N)
    "$translator" eval --checkpoint "$model" --data "$out/data/test.tsv" --threads 2 --beam $beam \
        --out-hyp "$model.test.beam$beam.hyp" | grep -E '^(length|all)'
    echo "   ($([ $beam = 1 ] && echo greedy || echo "beam $beam"): $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s)"
done

echo "== 3b. the last three validations' checkpoints, averaged (checkpoint averaging)"
last3=$(ls -d "$model".step-* 2>/dev/null | sort -t- -k2 -n | tail -n 3)
if [ "$(wc -w <<<"$last3")" -lt 2 ]; then
    echo "   (fewer than two validations in ${seconds}s: nothing to average)"
else
    # shellcheck disable=SC2086
    "$translator" average $last3 --out "$model-averaged" > /dev/null
    echo "   averaged: $(echo $last3 | xargs -n1 basename | tr '\n' ' ')"
    for beam in 1 5; do
        "$translator" eval --checkpoint "$model-averaged" --data "$out/data/test.tsv" --threads 2 --beam $beam \
            --out-hyp "$model-averaged.test.beam$beam.hyp" | grep -E '^all' | sed "s/^/   ($([ $beam = 1 ] && echo greedy || echo "beam $beam")) /"
    done
fi

echo "== 4. translations, and where the model looked (over words: each word's pieces merged)"
sentences=(
    "the children are playing in the garden"
    "she wrote a long letter to her mother"
    "he bought a new car last year"
)
printf '%s\n' "${sentences[@]}" | "$translator" translate --checkpoint "$model" --show-attention --words
i=0
for s in "${sentences[@]}"; do
    i=$((i + 1))
    "$translator" attention --checkpoint "$model" --source "$s" --words --svg "$out/attention/$arch-sentence$i.svg" > /dev/null
done
echo "   wrote $i heatmaps to $out/attention/"
