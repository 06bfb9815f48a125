#!/usr/bin/env bash
# Two builds of tapegrad side by side (before and after a change), alternated in one run so that the
# machine's noise falls on both alike: configurations A, B and V of bench/compare.sh; training, greedy
# decoding and beam search of width 5; medians over the rounds. OpenBLAS runs as users run it: the
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE pins of development machines are removed for both builds, and
# the kernel OpenBLAS picked is printed. Prints a markdown table and, last, one JSON line.
#   usage: bench/before_after.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [STEPS]
set -euo pipefail
. "$(dirname "$0")/configs.sh"
before=${1:?usage: bench/before_after.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [STEPS]}
after=${2:?usage: bench/before_after.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [STEPS]}
rounds=${3:-3}
steps=${4:-30}
for b in "$before" "$after"; do
    [ -x "$b/bench/train_step" ] || { echo "bench/before_after.sh: no $b/bench/train_step (ninja -C $b bench/train_step)" >&2; exit 1; }
done
kernel=$(openblas_kernel)
echo "OpenBLAS kernel: $kernel ($pin_note); $rounds rounds of $steps steps, 1 thread"
echo "| config | mode | before ms | after ms | after / before |"
echo "|---|---|---|---|---|"
json="{\"openblas_kernel\": \"$kernel\""
for name in A B V; do
    config=$(config_of "$name")
    for mode in train greedy beam5; do
        flag=$(mode_flags "$mode")
        b_ms=() a_ms=()
        for _ in $(seq "$rounds"); do
            b_ms+=("$(field median_ms "$("$before/bench/train_step" $config --steps "$steps" --threads 1 $flag)")")
            a_ms+=("$(field median_ms "$("$after/bench/train_step" $config --steps "$steps" --threads 1 $flag)")")
        done
        b=$(printf '%s\n' "${b_ms[@]}" | median)
        a=$(printf '%s\n' "${a_ms[@]}" | median)
        ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')
        echo "| $name | $mode | $b | $a | $ratio |"
        json+=", \"${name}_${mode}\": {\"before_ms\": $b, \"after_ms\": $a, \"ratio\": $ratio}"
    done
done
echo "$json}"
