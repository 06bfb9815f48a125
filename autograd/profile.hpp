// Instrumentation for benchmarks: which matrix products a piece of code performs, so that a
// benchmark can time exactly those products with raw BLAS and compare (bench/train_step).
#pragma once
#include <cstddef>
#include <vector>

namespace tg {

struct GemmCall {
    bool trans_a, trans_b;
    std::size_t m, n, k;  // C [m, n] (+)= op(A) [m, k] op(B) [k, n]
    float beta;
};

// While a log is set on this thread, every matrix product of matmul and linear appends its sizes.
void set_gemm_log(std::vector<GemmCall>* log);

}  // namespace tg
