// Private to the library: the matrix product that matmul and linear run (autograd/ops/matmul.cpp),
// ours for AVX-512 (autograd/gemm_avx512.cpp) where it is compiled in, else OpenBLAS's.
#pragma once
#include <cstddef>

namespace tg::detail {

// True when the library was compiled for a CPU with AVX-512 (the default, -march=native, on one)
// and the environment does not say TAPEGRAD_GEMM=openblas.
bool own_gemm_enabled();

// C [m, n] = op(A) [m, k] op(B) [k, n] + beta C, all row-major with leading dimensions lda, ldb,
// ldc (op(X) = X, or X^T when the flag is set). beta is 0 (C is only written: NaNs in it do not
// matter) or 1. Our product where own_gemm_enabled(), else cblas_sgemm.
void sgemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
           std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta);

}  // namespace tg::detail
