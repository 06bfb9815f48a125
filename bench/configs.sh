# What the comparisons share (sourced by bench/compare.sh, compare_transformer.sh and before_after.sh).
#
# Every program runs with OpenBLAS as users run it: the OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE pins of
# development machines are removed here, for this benchmark command only (tests and CI keep them).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# BENCH_PIN=Haswell (any OpenBLAS core name) pins every program alike instead, as the development and
# CI machines do: the second table of docs/performance.md. `pin_note` says which way this run went.
if [ -n "${BENCH_PIN:-}" ]; then
    export OPENBLAS_CORETYPE="$BENCH_PIN"
    pin_note="pinned for every program: OPENBLAS_CORETYPE=$BENCH_PIN"
else
    pin_note="no OPENBLAS_CORETYPE pin"
fi
# The peers run with glibc's malloc told to keep freed memory: by default glibc gives it back to the
# kernel each step and they page it in again, 25-33% slower; this compares against them at their best.
# PEER_MALLOC=default runs them with glibc's defaults instead. `peer COMMAND...` runs one so.
tuned="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
[ "${PEER_MALLOC:-tuned}" = default ] && tuned=""
peer() { GLIBC_TUNABLES="$tuned" "$@"; }
# `field NAME JSON`: a number of a program's JSON line; `median`: of the numbers on stdin, one a line.
field() { sed -E "s/.*\"$1\": ([0-9.]+|null).*/\1/" <<<"$2"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# `need_pytorch SCRIPT`: stops with a message naming the package when PyTorch is missing.
need_pytorch() {
    /usr/bin/python3 -c "import torch" 2>/dev/null && return
    echo "$1 needs PyTorch: apt-get install python3-torch" >&2
    exit 1
}

# The configurations: A, the demo's model; B, twice its sizes; V, a real vocabulary. `config_of NAME`
# prints train_step's flags.
config_of() {
    case $1 in
        A) echo "--batch 32 --emb 64 --hidden 128 --attn 128 --vocab 40 --src-len 20 --tgt-len 20" ;;
        B) echo "--batch 32 --emb 128 --hidden 256 --attn 256 --vocab 40 --src-len 20 --tgt-len 20" ;;
        V) echo "--batch 32 --emb 64 --hidden 128 --attn 128 --vocab 16000 --src-len 12 --tgt-len 12" ;;
    esac
}
# The flags of a mode: train, greedy (decoding) or beam5 (beam search of width 5).
mode_flags() {
    case $1 in
        train) echo "" ;;
        greedy) echo "--decode" ;;
        beam5) echo "--decode --beam 5" ;;
    esac
}
# The kernels OpenBLAS chose on this machine (as users run it, or as BENCH_PIN pinned it).
openblas_kernel() {
    python3 -c "
import ctypes
lib = ctypes.CDLL('libopenblas.so.0')
lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())" 2>/dev/null || echo unknown
}
