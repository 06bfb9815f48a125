// The one header through which the reference engine's ops (autograd/ops/) reach the code that exists
// only for speed. Each function here does what a few plain lines beside its caller do, the reference,
// which tests/test_kernels.cpp compares it with.
//
// Built with `-Dkernels=false` (make test-reference), kernels::enabled is false, nothing in kernels/
// is compiled, and every op runs its reference: the engine reads, builds and passes the suite alone.
// Ops call a kernel as `if constexpr (kernels::enabled) return kernels::f(...);`, so a reference build
// never names a kernel outside a discarded branch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tg {
struct Node;
class Tape;
}  // namespace tg

namespace tg::kernels {

#if defined(TAPEGRAD_KERNELS) && TAPEGRAD_KERNELS
inline constexpr bool enabled = true;
#else
inline constexpr bool enabled = false;
#endif

// C [m, n] = op(A) [m, k] op(B) [k, n] + beta C, row-major with leading dimensions lda, ldb, ldc,
// op(X) = X or X^T; beta is 0 (C only written) or 1 (kernels/gemm.cpp: OpenBLAS, or ours while decoding).
void gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
          std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta);

// Our register-tiled product for AVX-512 (own_gemm_compiled() false elsewhere: then OpenBLAS's), which
// gemm() runs while gradients are off.
bool own_gemm_compiled();
void own_gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
              std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta);

// Linear's weight gradient dW += dy^T x left for the end of the backward sweep, where a weight's
// pieces from every step of a recurrence become one product two threads can share. Returns false
// (do it now) unless that pays: more than one thread, a Parameter, few rows (kernels/weight_grads.cpp).
bool defer_weight_grad(Node& weight, const float* x, const float* dy, std::size_t rows, Tape& tape);

// Rows of floats with SIMD exp (kernels/rows.cpp).
float max_of(const float* x, std::size_t n);
float sum_of(const float* x, std::size_t n);
float log_sum_exp(const float* x, std::size_t n);  // max + log sum exp(x - max)
// out[c] += g exp(x[c] - shift) - minus
void add_scaled_exp(const float* x, float shift, float g, float* out, std::size_t n, float minus);
void top_k(std::span<const float> row, std::size_t k, std::vector<std::pair<float, std::int32_t>>& out);

// One row of the fused ops' forward passes, SIMD (kernels/fused_rows.cpp); the references are
// gates_row in autograd/ops/gru.cpp and score_row in autograd/ops/attention.cpp.
void gru_gates_row(std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n,
                   float* gh_n, float* h_new);
float score_row(const float* q, const float* k, const float* v, float* energy, std::size_t A);

}  // namespace tg::kernels
