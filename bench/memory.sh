#!/usr/bin/env bash
# Peak memory of the real command, as a user runs it: `translator train` on the demo's own data
# (40,000 pairs of 1-30 words, batches of varying shapes), measured by /usr/bin/time (peak resident
# set), beside PyTorch training the same model on the same file (bench/pytorch_reference.py
# --train-file), one after the other, 1 thread. Prints one JSON line per run and a markdown table.
#   usage: bench/memory.sh [BUILD_DIR] [SECONDS] [EPOCHS_CHECK]
# With EPOCHS_CHECK=1, also trains E64 H128 for exactly 1 and 5 epochs: memory must stay flat.
set -euo pipefail
build=${1:-build}
seconds=${2:-45}
epochs_check=${3:-0}
here=$(cd "$(dirname "$0")" && pwd)
translator="$build/examples/translator/translator"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
"$translator" generate --task long --n 40000 --seed 1 --split train --out "$data/train" >/dev/null
"$translator" generate --task long --n 500 --seed 2 --split valid --out "$data/valid" >/dev/null

peak_kb() { /usr/bin/time -f "%M" -o "$data/time" "$@" >/dev/null && cat "$data/time"; }
ours() {  # ours CONFIG LIMIT_OPTIONS...
    local config=$1
    shift
    rm -rf "$data/model"
    echo $(( $(peak_kb "$translator" train --train "$data/train.tsv" --valid "$data/valid.tsv" --out "$data/model" \
        --threads 1 $config "$@") / 1024 ))
}
has_torch=1
/usr/bin/python3 -c "import torch" 2>/dev/null || has_torch=0
[ $has_torch = 1 ] || echo "bench/memory.sh: no PyTorch (apt-get install python3-torch): its column is skipped" >&2

rows=()
for config in "--emb 64 --hidden 128 --attn 128" "--emb 128 --hidden 256 --attn 256"; do
    name="E$(sed -E 's/.*--emb ([0-9]+).*/\1/' <<<"$config") H$(sed -E 's/.*--hidden ([0-9]+).*/\1/' <<<"$config")"
    a=$(ours "$config" --epochs 1000 --time-limit "$seconds")
    b=null
    if [ $has_torch = 1 ]; then
        b=$(( $(peak_kb /usr/bin/python3 "$here/pytorch_reference.py" --train-file "$data/train.tsv" --seconds "$seconds" \
            --threads 1 $config) / 1024 ))
    fi
    echo "{\"bench\": \"memory\", \"config\": \"$name\", \"seconds\": $seconds, \"tapegrad_peak_rss_mb\": $a, \"pytorch_peak_rss_mb\": $b}"
    rows+=("| $name, ${seconds} s | $a | $b |")
done
if [ "$epochs_check" = 1 ]; then
    e1=$(ours "--emb 64 --hidden 128 --attn 128" --epochs 1)
    e5=$(ours "--emb 64 --hidden 128 --attn 128" --epochs 5)
    echo "{\"bench\": \"memory\", \"config\": \"E64 H128\", \"tapegrad_peak_rss_mb_after_1_epoch\": $e1, \"after_5_epochs\": $e5}"
    rows+=("| E64 H128, 1 epoch / 5 epochs | $e1 / $e5 | |")
fi
echo
echo "| translator train on the demo's data | tapegrad peak RSS MB | PyTorch peak RSS MB |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
