// The one header through which the reference engine (autograd/ops/, and the layers' GRU cell and
// attention) reaches the code that exists only for speed. Each function here does what a few plain
// lines beside its caller do, the reference, which tests/test_kernels.cpp compares it with.
//
// Built with `-Dkernels=false` (make test-reference), kernels::enabled is false and of kernels/ only
// the public headers' plain versions are compiled (kernels/reference.cpp, kernels/packed_weight.cpp):
// every op runs its reference, and the engine reads, builds and passes the suite alone. A caller
// reaches a kernel as `if constexpr (kernels::enabled) return kernels::f(...);`, so a reference build
// never names one outside a discarded branch.
#pragma once
#include <cstddef>

namespace tg {
class Var;
class Op;
class PackedWeight;
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

// Our register-tiled product for AVX-512, which gemm() runs while gradients are off. Compiled into
// every x86-64 build, native or portable, and chosen at run time: own_gemm_available() is false on a
// CPU without AVX-512 (and off x86-64), and then own_gemm and packed_product are OpenBLAS's product.
bool own_gemm_available();
void own_gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
              std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta);

// Decoding's packed weights (kernels/packed_linear.cpp) are read by own_gemm's micro-kernel: W [n, k]
// in panels of kPanel rows, each stored [k][kPanel], zero-padded, when own_gemm_available() (else W as
// it is). packed_product: y [m, n] += x [m, k] W^T on that layout.
inline constexpr std::size_t kPanel = 32;
void packed_product(const float* x, std::size_t m, std::size_t k, const float* weight, std::size_t n, float* y);
// That layout made from op(B) [k, n]: B = W [n, k] read transposed (trans_b), or W [k, n] as it is;
// `out` holds ceil(n / kPanel) * kPanel * k floats, 64-byte aligned. Only when own_gemm_available().
void pack_panels(const float* b, bool trans_b, std::size_t n, std::size_t k, float* out);
// The panels of op(B) [k, n] if B (the data at `b`: [n, k] when trans_b, else [k, n]) is a weight an
// open PackedWeightsScope (kernels/packed.hpp) holds, else nullptr: gemm then reads them instead of
// packing B, as packed_product's weight.
const float* packed_operand(const float* b, bool trans_b, std::size_t n, std::size_t k);

// linear(x, PackedWeight)'s checks (x [..., in] and bias [out] fit, nothing wants a gradient) and
// the op it starts, output [..., out] (kernels/packed_weight.cpp; built with or without kernels).
Op start_packed_linear(const Var& x, const PackedWeight& weight, const Var& bias);

// Rows of floats with SIMD exp (kernels/rows.cpp).
float max_of(const float* x, std::size_t n);
float sum_of(const float* x, std::size_t n);
float log_sum_exp(const float* x, std::size_t n);  // max + log sum exp(x - max)
// out[c] += g exp(x[c] - shift) - minus
void add_scaled_exp(const float* x, float shift, float g, float* out, std::size_t n, float minus);
// y[c] = exp(y[c]) in place (exp(-inf) = 0), returning their sum: softmax's exponentials
float exp_in_place(float* y, std::size_t n);

// The fused ops of the layers: each the same as the composed ops its layer runs without kernels,
// in one record, one pass forward (SIMD) and one pass backward. tests/test_kernels.cpp checks their
// gradients and that they agree with the composed forms.
//   gru_gates (kernels/gru_gates.cpp): gi, gh [B, 3H] ([r; z; n]) and h [B, H] -> h' [B, H], as
//     layers/gru_cell.cpp composes r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z),
//     n = tanh(gi_n + r * gh_n), h' = (1 - z) * n + z * h.
//   additive_scores (kernels/additive_scores.cpp): query [B*G, A], keys [B, S, A], v [A] ->
//     e [B*G, S] = v . tanh(q + keys) (Eq. 6), query row r reading the keys of sentence r / G,
//     as layers/attention.cpp composes it.
Var gru_gates(const Var& gi, const Var& gh, const Var& h);
Var additive_scores(const Var& query, const Var& keys, const Var& v);

}  // namespace tg::kernels
