#!/usr/bin/env bash
# The attention family on real text (make family-real): `make real`'s data and settings (WordNet's
# English, Apertium's Spanish, SentencePiece units of about 4,000 a side, E 128, H 256, a deep output of
# 256, dropout 0.2, label smoothing 0.1), each score function with the GRU and the paper's additive
# attention with the LSTM, trained for the same time on 2 threads, then scored on the same 1,015 test
# sentences (BLEU and chrF2, greedy and beam 5; real text has no gold alignments, so no AER) and drawn
# on the same sentence. Writes BUILD/real/family/results.md and one SVG each.
#   usage: examples/translator/real/family.sh [BUILD_DIR] [SECONDS] [VARIANTS...]
#   (VARIANTS: cell:attention pairs, by default all six, e.g. gru:dot lstm:additive)
set -euo pipefail
build=${1:-build}
seconds=${2:-600}
shift $(( $# < 2 ? $# : 2 ))
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(gru:additive gru:dot gru:general gru:scaled_dot gru:multi_head lstm:additive)
here=$(cd "$(dirname "$0")" && pwd)
translator="$build/examples/translator/translator"
data="$build/real/data"
out="$build/real/family"
mkdir -p "$out"
# shellcheck source=settings.sh
source "$here/settings.sh"
real_corpus "$here" "$data"
sentence="she wrote a long letter to her mother"

table="| cell | attention | parameters | steps in ${seconds} s | BLEU greedy | chrF2 greedy | BLEU beam 5 | chrF2 beam 5 |
|---|---|---|---|---|---|---|---|"
for variant in "${variants[@]}"; do
    cell=${variant%%:*}
    attention=${variant#*:}
    name="$cell-$attention"
    sizes=("${real_rnnsearch[@]}" --cell "$cell" --attention "$attention")
    [ "$attention" = additive ] && sizes+=(--attn 128)
    echo "== $name: training for ${seconds}s on 2 threads"
    log=$("$translator" train --train "$data/train.tsv" --valid "$data/valid.tsv" --out "$out/$name" --force \
        --subwords $real_subwords "${sizes[@]}" --epochs 1000 --time-limit "$seconds" --threads 2 --valid-every 1000 2>&1 | tr '\r' '\n')
    parameters=$(grep -o '[0-9]* parameters' <<<"$log" | head -1 | cut -d' ' -f1)
    steps=$(grep -o 'after [0-9]* steps' <<<"$log" | tail -1 | cut -d' ' -f2)
    row="| $cell | $attention | $parameters | $steps |"
    for beam in 1 5; do
        all=$("$translator" eval --checkpoint "$out/$name" --data "$data/test.tsv" --threads 2 --beam $beam | grep '^all')
        row+=" $(awk '{print $4}' <<<"$all") | $(awk '{print $5}' <<<"$all") |"
    done
    table+="
$row"
    "$translator" attention --checkpoint "$out/$name" --source "$sentence" --words --svg "$out/$name.svg" > /dev/null
    echo "   $row"
done
printf '# The attention family on real text\n\n%s\n\nHeatmaps of "%s": %s/*.svg\n' "$table" "$sentence" "$out" > "$out/results.md"
cat "$out/results.md"
