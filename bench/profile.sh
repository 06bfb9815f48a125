#!/usr/bin/env bash
# Where a training step's time goes: `perf record` of bench/train_step (without the raw-sgemm replay
# that it otherwise interleaves), its samples grouped into a few categories, printed as a markdown
# table with each category's share and its milliseconds per step. Needs perf (Debian: linux-perf).
#   usage: bench/profile.sh [BUILD_DIR] [STEPS] [more train_step flags, e.g. --decode]
set -euo pipefail
build=${1:-build}
steps=${2:-200}
shift $(( $# < 2 ? $# : 2 ))
if ! command -v perf >/dev/null; then
    echo "bench/profile.sh needs perf: apt-get install linux-perf" >&2
    exit 1
fi
data=$(mktemp)
trap 'rm -f "$data"' EXIT
json=$(perf record -q -o "$data" "$build/bench/train_step" --steps "$steps" --no-limit "$@" 2>/dev/null)
median_ms=$(sed -E 's/.*"median_ms": ([0-9.]+).*/\1/' <<<"$json")
# The busiest thread only, the program's own, and shares of its samples alone: OpenBLAS's idle
# helper threads wait by calling sched_yield in a loop, samples that are no part of the step's time.
# (With --threads 2 the helper's half of a split product is left out too: profile one thread.)
pid=$(perf report -i "$data" --no-children --sort pid --stdio 2>/dev/null | grep -m1 -oE '[0-9]+:' | tr -d :)
perf report -i "$data" --no-children --sort symbol --stdio --tid "$pid" --percentage relative 2>/dev/null |
    /usr/bin/python3 -c '
import re, sys
median_ms = float(sys.argv[1])
# First match wins: the order matters (a slice backward is a copy, not a generic backward).
categories = [
    ("matrix products (ours: kernels/gemm.cpp, packing included)", r"micro_kernel|pack_a|pack_b|packed_product|gemm_one_thread|kernels::.*tile|thin_gemm|simd::.*(row_times|dot)\b"),
    ("matrix products (OpenBLAS: kernels and packing)", r"sgemm|gemm_|cblas"),
    ("attention scores (the fused additive_scores)", r"additive_scores|score_row|score_backward_row"),
    ("GRU gates (the fused gru_gates)", r"gru_gates|gates_row|gates_backward_row"),
    ("copies: slice, select, concat, stack", r"memmove|memcpy|slice_impl|join|select"),
    ("zero fills of gradient buffers", r"memset|Tensor::fill"),
    ("softmax, cross-entropy, rows of logits in decoding", r"softmax|cross_entropy|expf|logf|log_sum_exp|add_scaled_exp|exp_in_place|max_of|sum_of|argmax|top_k|find_equal|find_register_above"),
    ("clipping and Adam", r"Adam|clip_grad_norm|Optimizer"),
    ("backward functions of the other ops", r"lambda\(tg::Record&\)|accumulate|sum_to"),
    ("elementwise forward of the other ops", r"tg::(add|sub|mul|div|neg|tanh|sigmoid|exp|log|where|rsub_scalar|add_scalar|mul_scalar|matmul|linear|embedding)\b|xt::"),
    ("tape and bookkeeping (records, shapes, allocation)", r"Tape|Op::|Shape|svector|new_value|checked|grad_of|malloc|free|operator new|_int_"),
    ("operating system (kernel)", r"^\[k\]"),
]
share = {name: 0.0 for name, _ in categories}
share["other"] = 0.0
for line in sys.stdin:
    m = re.match(r"\s*([0-9.]+)%\s+(\[[.k]\])\s+(.*)", line)
    if not m:
        continue
    pct, kind, sym = float(m.group(1)), m.group(2), m.group(3).strip()
    text = kind + " " + sym
    for name, pattern in categories:
        if re.search(pattern, sym if not pattern.startswith("^") else text):
            share[name] += pct
            break
    else:
        share["other"] += pct
print(f"median step {median_ms:.2f} ms")
print("| where | share | ms per step |")
print("|---|---|---|")
for name, pct in sorted(share.items(), key=lambda kv: -kv[1]):
    print(f"| {name} | {pct:.1f}% | {pct / 100 * median_ms:.2f} |")
' "$median_ms"
