#!/usr/bin/env bash
# tapegrad's Transformer against PyTorch's (nn.TransformerEncoder/Decoder of nn.Transformer*Layer, as a
# PyTorch user builds it: bench/pytorch_reference.py --arch transformer), the same sizes and batches,
# run alternately in one run. Training steps (Adam, clipping), greedy decoding and beam search of width
# 5, both decoders caching each layer's keys and values. PyTorch with glibc's malloc tuned (its best
# case, as bench/compare.sh) and OpenBLAS as users run it (the pins of development machines removed).
#   TA: the demo's sizes (d_model 64, d_ff 256, 2 + 2 layers, 4 heads; 40 words, 20 a sentence)
#   TV: the same model with a real vocabulary (16,000 words, 12 a sentence)
#   usage: bench/compare_transformer.sh [BUILD_DIR] [ROUNDS] [STEPS] [THREADS]
set -euo pipefail
. "$(dirname "$0")/configs.sh"
need_pytorch bench/compare_transformer.sh
build=${1:-build}
rounds=${2:-3}
steps=${3:-30}
threads=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
ours="$build/bench/train_step"
python="/usr/bin/python3 $here/pytorch_reference.py"
sizes="--arch transformer --model-dim 64 --ff-dim 256 --layers 2 --heads 4 --batch 32"

echo "OpenBLAS kernel: $(openblas_kernel) ($pin_note); $rounds rounds of $steps steps, $threads thread(s)"
echo
echo "| config | mode | tapegrad ms | PyTorch ms | PyTorch / tapegrad | tapegrad RSS MB | PyTorch RSS MB |"
echo "|---|---|---|---|---|---|---|"
for name in TA TV; do
    case $name in
        TA) config="$sizes --vocab 40 --src-len 20 --tgt-len 20" ;;
        TV) config="$sizes --vocab 16000 --src-len 12 --tgt-len 12" ;;
    esac
    for mode in train greedy beam5; do
        flag=$(mode_flags "$mode")
        ours_ms=() py_ms=() ours_rss=() py_rss=()
        for _ in $(seq "$rounds"); do
            a=$($ours $config --steps "$steps" --threads "$threads" --no-limit $flag)
            ours_ms+=("$(field median_ms "$a")")
            ours_rss+=("$(field peak_rss_mb "$a")")
            c=$(peer $python $config --steps "$steps" --threads "$threads" $flag)
            py_ms+=("$(field median_ms "$c")")
            py_rss+=("$(field peak_rss_mb "$c")")
        done
        om=$(printf '%s\n' "${ours_ms[@]}" | median)
        pm=$(printf '%s\n' "${py_ms[@]}" | median)
        printf "| %s | %s | %s | %s | %.2f | %s | %s |\n" "$name" "$mode" "$om" "$pm" "$(awk -v a="$pm" -v b="$om" "BEGIN {print a / b}")" \
            "$(printf '%s\n' "${ours_rss[@]}" | median)" "$(printf '%s\n' "${py_rss[@]}" | median)"
    done
done
