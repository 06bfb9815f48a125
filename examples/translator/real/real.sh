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

echo "== 1. corpus: WordNet 3.0's usage examples of 3-20 words, translated by Apertium (eng-spa)"
if [ ! -s "$out/data/test.tsv" ]; then
    /usr/bin/python3 "$here/make_corpus.py" "$out/data.tmp"
    rm -rf "$out/data"
    mv "$out/data.tmp" "$out/data"
else
    echo "   (kept from an earlier run: $out/data)"
fi
echo "   e.g.  $(sed -n 2p "$out/data/train.tsv" | cut -f1)"
echo "     ->  $(sed -n 2p "$out/data/train.tsv" | cut -f2)"

model="$out/model"
sizes=(--emb 128 --hidden 256 --attn 128 --deep-output 256 --dropout 0.2)
if [ "$arch" = transformer ]; then
    model="$out/transformer"
    sizes=(--arch transformer --model-dim 256 --ff-dim 1024 --layers 3 --heads 4 --dropout 0.1 --lr 1e-3 --warmup 1000
           --lr-decay inverse-sqrt)
fi
echo "== 2. training $arch on subword units for ${seconds}s on 2 threads"
rm -rf "$model".step-*  # the checkpoints an earlier make real kept for averaging
# The paper's deep output (a maxout of 256 units before the softmax, Appendix A.2.2) makes the output
# layer 3.5x cheaper, so 10 minutes hold more epochs; dropout 0.2 keeps them from overfitting, and label
# smoothing 0.1 gives beam search better-spread word scores (docs/results.md: the runs that chose this).
"$translator" train --train "$out/data/train.tsv" --valid "$out/data/valid.tsv" --out "$model" \
    --subwords 4000 "${sizes[@]}" --label-smoothing 0.1 \
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
last3=$(ls -d "$model".step-* | sort -t- -k2 -n | tail -n 3)
# shellcheck disable=SC2086
"$translator" average $last3 --out "$model-averaged" > /dev/null
echo "   averaged: $(echo $last3 | xargs -n1 basename | tr '\n' ' ')"
for beam in 1 5; do
    "$translator" eval --checkpoint "$model-averaged" --data "$out/data/test.tsv" --threads 2 --beam $beam \
        --out-hyp "$model-averaged.test.beam$beam.hyp" | grep -E '^all' | sed "s/^/   ($([ $beam = 1 ] && echo greedy || echo "beam $beam")) /"
done

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
