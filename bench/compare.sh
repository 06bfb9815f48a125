#!/usr/bin/env bash
# tapegrad against PyTorch on the translator's model, run alternately (the machine is shared and
# noisy: alternating spreads the noise over both), for the two configurations of issue 7, training
# and greedy decoding, 1 and 2 threads. Prints a markdown table of medians over the rounds.
#   usage: bench/compare.sh [BUILD_DIR] [ROUNDS] [STEPS]
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
steps=${3:-30}
here=$(cd "$(dirname "$0")" && pwd)
ours="$build/bench/train_step"
theirs="/usr/bin/python3 $here/pytorch_reference.py"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "bench/compare.sh needs PyTorch: apt-get install python3-torch" >&2
    exit 1
fi
field() { sed -E "s/.*\"$1\": ([0-9.]+|null).*/\1/" <<<"$2"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "| config | mode | threads | tapegrad tok/s | PyTorch tok/s | ratio | tapegrad ms | limit ms | ms/limit | tapegrad RSS MB | PyTorch RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for config in "--batch 32 --emb 64 --hidden 128 --attn 128 --vocab 40 --src-len 20 --tgt-len 20" \
              "--batch 32 --emb 128 --hidden 256 --attn 256 --vocab 40 --src-len 20 --tgt-len 20"; do
    for mode in train decode; do
        flag=""
        [ "$mode" = decode ] && flag="--decode"
        for threads in 1 2; do
            ours_tok=() theirs_tok=() ours_ms=() limit=() ours_rss=() theirs_rss=()
            for _ in $(seq "$rounds"); do
                a=$($ours $config --steps "$steps" --threads "$threads" $flag)
                b=$($theirs $config --steps "$steps" --threads "$threads" $flag)
                ours_tok+=("$(field tgt_tokens_per_s "$a")")
                theirs_tok+=("$(field tgt_tokens_per_s "$b")")
                ours_ms+=("$(field median_ms "$a")")
                limit+=("$(field limit_ms "$a")")
                ours_rss+=("$(field peak_rss_mb "$a")")
                theirs_rss+=("$(field peak_rss_mb "$b")")
            done
            ot=$(printf '%s\n' "${ours_tok[@]}" | median)
            tt=$(printf '%s\n' "${theirs_tok[@]}" | median)
            om=$(printf '%s\n' "${ours_ms[@]}" | median)
            lm=$(printf '%s\n' "${limit[@]}" | median)
            printf "| %s | %s | %s | %s | %s | %.2f | %s | %s | %.2f | %s | %s |\n" \
                "E$(sed -E 's/.*--emb ([0-9]+).*/\1/' <<<"$config") H$(sed -E 's/.*--hidden ([0-9]+).*/\1/' <<<"$config")" \
                "$mode" "$threads" "$ot" "$tt" "$(awk -v a="$ot" -v b="$tt" "BEGIN {print a / b}")" "$om" "$lm" "$(awk -v a="$om" -v b="$lm" "BEGIN {print a / b}")" \
                "$(printf '%s\n' "${ours_rss[@]}" | median)" "$(printf '%s\n' "${theirs_rss[@]}" | median)"
        done
    done
done
