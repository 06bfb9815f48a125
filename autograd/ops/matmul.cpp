// Matrix products: matmul and linear. Backward needs two more products per input pair, added straight
// into the gradient buffers (beta = 1), so no temporary matrix is ever built:
//     dA += dC B^T        dB += A^T dC
#include <fmt/format.h>

#include <algorithm>

#include "autograd/detail/op.hpp"
#include "kernels/kernels.hpp"

namespace tg {
using namespace detail;

namespace {

// C [m, n] = op(A) [m, k] op(B) [k, n] + beta C, row-major (op(X) = X, or X^T when the flag is set),
// beta 0 or 1: the product under every matmul and linear. The reference is the textbook loop (as
// llm.c's matmul_forward_naive), ordered so that the innermost loop runs along contiguous memory;
// the fast one is kernels::gemm.
void gemm(const float* a, bool ta, const float* b, bool tb, float* c, std::size_t m, std::size_t k, std::size_t n,
          float beta) {
    if constexpr (kernels::enabled) return kernels::gemm(a, ta, ta ? m : k, b, tb, tb ? k : n, c, n, m, n, k, beta);
    auto A = [&](std::size_t i, std::size_t p) { return ta ? a[p * m + i] : a[i * k + p]; };
    for (std::size_t i = 0; i < m; ++i) {
        float* ci = c + i * n;
        if (beta == 0.0f) std::fill_n(ci, n, 0.0f);
        if (tb) {  // c[i, j] += a[i, :] . b[j, :]
            for (std::size_t j = 0; j < n; ++j) {
                float s = 0.0f;
                for (std::size_t p = 0; p < k; ++p) s += A(i, p) * b[j * k + p];
                ci[j] += s;
            }
        } else {  // c[i, :] += a[i, p] b[p, :]
            for (std::size_t p = 0; p < k; ++p)
                for (std::size_t j = 0; j < n; ++j) ci[j] += A(i, p) * b[p * n + j];
        }
    }
}

// The sizes of one product: `batch` independent [m,k] @ [k,n] products, the batch being every axis
// before the last two. `b_shared`: B is one matrix used by every batch entry, which is the same as
// one product with batch*m rows.
struct Dims {
    std::size_t batch, m, k, n;
    bool b_shared;
};

Dims matmul_dims(const Shape& a, const Shape& b) {
    auto fail = [&](const char* why) {
        return ShapeError(fmt::format("matmul: {}: {} @ {}", why, a.str(), b.str()));
    };
    const int ra = a.rank(), rb = b.rank();
    if (ra < 2 || rb < 2 || (rb > 2 && rb != ra))
        throw fail("expected [M,K] @ [K,N], [...,M,K] @ [...,K,N] (the same leading axes) or [...,M,K] @ [K,N]");
    if (a[ra - 1] != b[rb - 2]) throw fail("inner dimensions differ");
    std::size_t batch = 1;
    for (int i = 0; i < ra - 2; ++i) {
        if (rb > 2 && a[i] != b[i]) throw fail("batch sizes differ");
        batch *= a[i];
    }
    return {batch, a[ra - 2], a[ra - 1], b[rb - 1], rb == 2};
}

}  // namespace

Var matmul(const Var& a, const Var& b) {
    const Dims d = matmul_dims(a.shape(), b.shape());
    Op op("matmul", {a, b}, a.shape().with(a.shape().rank() - 1, d.n));
    const std::size_t rows = d.b_shared ? d.batch * d.m : d.m;  // one product when B is shared
    const std::size_t batches = d.b_shared ? 1 : d.batch;
    const float *A = a.value().data(), *B = b.value().data();
    for (std::size_t i = 0; i < batches; ++i)
        gemm(A + i * rows * d.k, false, B + i * d.k * d.n, false, op.out().data() + i * rows * d.n, rows, d.k, d.n, 0.0f);
    return op.finish([](Record& r) {
        const Dims d = matmul_dims(r.input(0).shape(), r.input(1).shape());
        const std::size_t rows = d.b_shared ? d.batch * d.m : d.m;
        const std::size_t batches = d.b_shared ? 1 : d.batch;
        const float *A = r.input(0).data(), *B = r.input(1).data(), *G = r.grad_out().data();
        for (std::size_t i = 0; i < batches; ++i) {
            if (r.needs_grad(0))  // dA += dC B^T
                gemm(G + i * rows * d.n, false, B + i * d.k * d.n, true, r.grad_in(0).data() + i * rows * d.k, rows, d.n, d.k, 1.0f);
            if (r.needs_grad(1))  // dB += A^T dC
                gemm(A + i * rows * d.k, true, G + i * rows * d.n, false, r.grad_in(1).data() + i * d.k * d.n, d.k, rows, d.n, 1.0f);
        }
    });
}

// y = x W^T (+ b), with the leading axes of x flattened into rows:
//     dx += dy W        dW += dy^T x        db += sum of dy's rows
Var linear(const Var& x, const Var& weight, const Var& bias) {
    const Shape& xs = x.shape();
    const Shape& ws = weight.shape();
    const bool has_bias = bias.defined();
    if (ws.rank() != 2 || xs.rank() < 1 || xs[xs.rank() - 1] != ws[1] ||
        (has_bias && !(bias.shape() == Shape{ws[0]})))
        throw ShapeError(fmt::format("linear: input {} and weight {}{} do not fit (expected [..., in], [out, in], [out])",
                                     xs.str(), ws.str(), has_bias ? " and bias " + bias.shape().str() : ""));
    const std::size_t n_in = ws[1], n_out = ws[0], rows = xs.without(xs.rank() - 1).numel();  // (also when n_in = 0)
    const Shape out_shape = xs.with(xs.rank() - 1, n_out);
    Op op = has_bias ? Op("linear", {x, weight, bias}, out_shape) : Op("linear", {x, weight}, out_shape);
    float* y = op.out().data();
    if (has_bias)  // start from the bias in every row, then add the product (beta = 1)
        for (std::size_t r = 0; r < rows; ++r) std::copy_n(bias.value().data(), n_out, y + r * n_out);
    gemm(x.value().data(), false, weight.value().data(), true, y, rows, n_in, n_out, has_bias ? 1.0f : 0.0f);
    return op.finish([](Record& r) {
        const std::size_t n_in = r.input(1).shape()[1], n_out = r.input(1).shape()[0];
        const Shape& xs = r.input(0).shape();
        const std::size_t rows = xs.without(xs.rank() - 1).numel();
        const float *x = r.input(0).data(), *G = r.grad_out().data();
        if (r.needs_grad(0))  // dx += dy W
            gemm(G, false, r.input(1).data(), false, r.grad_in(0).data(), rows, n_out, n_in, 1.0f);
        if (r.needs_grad(1))  // dW += dy^T x
            gemm(G, true, x, false, r.grad_in(1).data(), n_out, rows, n_in, 1.0f);
        if (r.inputs.size() == 3 && r.needs_grad(2)) {  // db += sum dy
            float* db = r.grad_in(2).data();
            for (std::size_t k = 0; k < rows; ++k)
                for (std::size_t j = 0; j < n_out; ++j) db[j] += G[k * n_out + j];
        }
    });
}

}  // namespace tg
