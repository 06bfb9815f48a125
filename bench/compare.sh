#!/usr/bin/env bash
# tapegrad against its peers on the translator's model, run alternately in one run (the machine is
# shared and noisy: alternating spreads the noise over all three): libtorch (the PyTorch C++ API,
# bench/libtorch_reference.cpp, when Debian's libtorch-dev was there at build time; skipped with a
# message otherwise) and PyTorch (bench/pytorch_reference.py). Configurations A, B and V of issue 16;
# training, greedy decoding and beam search of width 5. Prints a markdown table of medians over the rounds.
#
# The peers run with glibc's malloc at its best (PEER_MALLOC=default: its defaults), all three with
# OpenBLAS as users run it, the kernel it chose printed (bench/configs.sh); BENCH_PIN=Haswell pins all
# three alike, as the development machines do (docs/performance.md's pinned table).
#   usage: [BENCH_PIN=CORE] bench/compare.sh [BUILD_DIR] [ROUNDS] [STEPS] [THREADS]
set -euo pipefail
. "$(dirname "$0")/configs.sh"
need_pytorch bench/compare.sh
build=${1:-build}
rounds=${2:-3}
steps=${3:-30}
threads=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
ours="$build/bench/train_step"
python="/usr/bin/python3 $here/pytorch_reference.py"
libtorch="$build/bench/libtorch_reference"
if [ ! -x "$libtorch" ]; then
    echo "bench/compare.sh: no $libtorch (apt-get install libtorch-dev, then rebuild): the libtorch column is skipped" >&2
    libtorch=""
fi

echo "OpenBLAS kernel: $(openblas_kernel) ($pin_note); $rounds rounds of $steps steps, $threads thread(s)"
echo
echo "| config | mode | tapegrad ms | libtorch ms | PyTorch ms | fastest peer / tapegrad | tapegrad / hw limit | tapegrad RSS MB | libtorch RSS MB | PyTorch RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for name in A B V; do
    config=$(config_of "$name")
    for mode in train greedy beam5; do
        flag=$(mode_flags "$mode")
        ours_ms=() hw=() lt_ms=() py_ms=() ours_rss=() lt_rss=() py_rss=()
        for _ in $(seq "$rounds"); do
            a=$($ours $config --steps "$steps" --threads "$threads" $flag)
            ours_ms+=("$(field median_ms "$a")")
            hw+=("$(field median_over_hw_limit "$a")")
            ours_rss+=("$(field peak_rss_mb "$a")")
            if [ -n "$libtorch" ]; then
                b=$(peer "$libtorch" $config --steps "$steps" --threads "$threads" $flag)
                lt_ms+=("$(field median_ms "$b")")
                lt_rss+=("$(field peak_rss_mb "$b")")
            fi
            c=$(peer $python $config --steps "$steps" --threads "$threads" $flag)
            py_ms+=("$(field median_ms "$c")")
            py_rss+=("$(field peak_rss_mb "$c")")
        done
        om=$(printf '%s\n' "${ours_ms[@]}" | median)
        pm=$(printf '%s\n' "${py_ms[@]}" | median)
        lm=$([ -n "$libtorch" ] && printf '%s\n' "${lt_ms[@]}" | median || echo "")
        fastest=$(printf '%s\n' $lm $pm | sort -g | head -1)
        printf "| %s | %s | %s | %s | %s | %.2f | %s | %s | %s | %s |\n" "$name" "$mode" "$om" "${lm:-skipped}" "$pm" \
            "$(awk -v a="$fastest" -v b="$om" "BEGIN {print a / b}")" "$(printf '%s\n' "${hw[@]}" | median)" \
            "$(printf '%s\n' "${ours_rss[@]}" | median)" \
            "$([ -n "$libtorch" ] && printf '%s\n' "${lt_rss[@]}" | median || echo -)" "$(printf '%s\n' "${py_rss[@]}" | median)"
    done
done
