# The configurations the comparisons run (sourced by bench/compare.sh and bench/before_after.sh):
# A, the demo's model; B, twice its sizes; V, a real vocabulary. `config_of NAME` prints train_step's flags.
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
# The kernels OpenBLAS chose on this machine (as users run it: call after unsetting OPENBLAS_CORETYPE).
openblas_kernel() {
    python3 -c "
import ctypes
lib = ctypes.CDLL('libopenblas.so.0')
lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())" 2>/dev/null || echo unknown
}
