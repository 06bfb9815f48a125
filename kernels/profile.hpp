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

// While a log is set on this thread, every matrix product of matmul and linear (packed or not)
// appends its sizes.
void set_gemm_log(std::vector<GemmCall>* log);
// Appends one product to this thread's log, if one is set (for ops that run a product of their own).
void log_gemm(const GemmCall& call);

}  // namespace tg
