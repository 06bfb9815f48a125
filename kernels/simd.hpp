// The SIMD loops of the kernels, one table of them per instruction set (kernels/simd_rows.cpp).
//
// xsimd chooses its register width when a file is compiled, from the compiler's flags: AVX-512 under
// -march=native on such a CPU, SSE2 in a portable build (-Dnative=false), which must run on any
// x86-64. So a portable build compiles kernels/simd_rows.cpp three times, for AVX-512, AVX2 + FMA and
// plain x86-64, each into a table of its own, and rows() hands out the widest this CPU runs, asked
// once; a native build compiles it once, for its own CPU. The callers (kernels/rows.cpp,
// gru_gates.cpp, additive_scores.cpp, gemm.cpp's thin products) are compiled once and call through the
// table: one indirect call per row. Only raw pointers cross this header (no xtensor, no tapegrad types): the copies compiled
// for different instruction sets share no inline code but the standard library's and xsimd's own,
// whose functions xsimd names after the instruction set.
#pragma once
#include <cstddef>
#include <span>

namespace tg::kernels::simd {

struct Rows {
    const char* name;  // "avx512", "avx2", "sse2" (portable build) or "native"
    // A row of floats: its largest value, its sum, m + log sum exp(x - m) for its largest value m,
    // out[c] += g exp(x[c] - shift) - minus, and y[c] = exp(y[c]) in place returning their sum.
    float (*max_of)(const float* x, std::size_t n);
    float (*sum_of)(const float* x, std::size_t n);
    float (*log_sum_exp_shifted)(const float* x, std::size_t n, float m);
    void (*add_scaled_exp)(const float* x, float shift, float g, float* out, std::size_t n, float minus);
    float (*exp_in_place)(float* y, std::size_t n);
    // The first position c >= from at which x[c] == value (n if none): argmax's search, a register at a time.
    std::size_t (*find_equal)(const float* x, std::size_t from, std::size_t n, float value);
    // The first position c >= from, in steps of a register, whose register holds a value above
    // `bound` (a position from which fewer than a register's width remain, if none): top_k's scan.
    std::size_t (*find_register_above)(const float* x, std::size_t from, std::size_t n, float bound);
    std::size_t width;  // floats per register: find_register_above's step
    // One row of the GRU's gates (kernels/gru_gates.cpp): forward, keeping r, z, n and gh_n; backward,
    // adding into the rows of dgi, dgh and dh that are not null.
    void (*gates_row)(std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n,
                      float* gh_n, float* h_new);
    void (*gates_backward_row)(std::size_t H, const float* d, const float* h, const float* r, const float* z,
                               const float* n, const float* gh_n, float* dgi, float* dgh, float* dh);
    // One additive score (kernels/additive_scores.cpp): energy = tanh(q + k), kept, returning v . energy;
    // backward for one score of gradient g, adding into those of dk, dq and dv that are not null.
    float (*score_row)(const float* q, const float* k, const float* v, float* energy, std::size_t A);
    void (*score_backward_row)(float g, const float* energy, const float* v, float* dk, float* dq, float* dv,
                               std::size_t A);
    // The products too thin for a register tile (kernels/gemm.cpp's thin_gemm): a row times a matrix,
    // y[c] += sum_p a[p] x[p ldx + c] over k rows of x, and x . y (four sums kept apart, so the
    // multiply-adds do not wait on each other).
    void (*row_times)(const float* a, const float* x, std::size_t ldx, float* y, std::size_t n, std::size_t k);
    float (*dot)(const float* x, const float* y, std::size_t n);
};

// The widest table this CPU runs (asked once).
const Rows& rows();
// Every table compiled into this build that this CPU runs, widest first (tests/test_kernels.cpp
// checks each against the references).
std::span<const Rows* const> all_rows();

}  // namespace tg::kernels::simd
