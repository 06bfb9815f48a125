// Matrix products through BLAS (xtensor-blas's gemm over OpenBLAS's cblas_sgemm).
// Backward needs two more products per input pair; both accumulate straight into the gradient
// buffers (beta = 1), so no temporary matrix is ever built:
//     dA += dC B^T        dB += A^T dC
#include <xtensor-blas/xblas.hpp>

#include <fmt/format.h>

#include "autograd/detail/op.hpp"
#include "autograd/threads.hpp"

namespace tg {
using namespace detail;

namespace {

// C (m x n) = alpha * op(A) op(B) + beta * C, all row-major raw memory.
void gemm(const float* a, bool ta, const float* b, bool tb, float* c, std::size_t m, std::size_t k,
          std::size_t n, float beta) {
    static const int threads_set = num_threads();  // links threads.cpp, whose start-up sets the default
    (void)threads_set;
    auto A = ta ? matrix(a, k, m) : matrix(a, m, k);
    auto B = tb ? matrix(b, n, k) : matrix(b, k, n);
    auto C = matrix(c, m, n);
    xt::blas::gemm(A, B, C, ta, tb, 1.0f, beta);
}

// The sizes of one product: `batch` independent [m,k] @ [k,n] products. `b_shared`: B is one
// matrix used by every batch entry, which is the same as one product with batch*m rows.
struct Dims {
    std::size_t batch, m, k, n;
    bool b_shared;
};

Dims matmul_dims(const Shape& a, const Shape& b) {
    auto fail = [&](const char* why) {
        return ShapeError(fmt::format("matmul: {}: {} @ {}", why, a.str(), b.str()));
    };
    if (a.rank() < 2 || a.rank() > 3 || b.rank() < 2 || b.rank() > 3 || (a.rank() == 2 && b.rank() == 3))
        throw fail("expected [M,K] @ [K,N], [B,M,K] @ [B,K,N] or [B,M,K] @ [K,N]");
    const int ra = a.rank(), rb = b.rank();
    if (a[ra - 1] != b[rb - 2]) throw fail("inner dimensions differ");
    if (ra == 3 && rb == 3 && a[0] != b[0]) throw fail("batch sizes differ");
    std::size_t batch = ra == 3 ? a[0] : 1;
    return {batch, a[ra - 2], a[ra - 1], b[rb - 1], rb == 2};
}

}  // namespace

Var matmul(const Var& a, const Var& b) {
    const Dims d = matmul_dims(a.shape(), b.shape());
    Shape out_shape = a.shape().rank() == 3 ? Shape{d.batch, d.m, d.n} : Shape{d.m, d.n};
    Op op("matmul", {a, b}, out_shape);
    const float* A = a.value().data();
    const float* B = b.value().data();
    float* C = op.out().data();
    if (d.b_shared) {
        gemm(A, false, B, false, C, d.batch * d.m, d.k, d.n, 0.0f);
    } else {
        for (std::size_t i = 0; i < d.batch; ++i)
            gemm(A + i * d.m * d.k, false, B + i * d.k * d.n, false, C + i * d.m * d.n, d.m, d.k, d.n, 0.0f);
    }
    return op.finish([](Record& r) {
        const Dims d = matmul_dims(in(r, 0).shape(), in(r, 1).shape());
        const float* A = in(r, 0).data();
        const float* B = in(r, 1).data();
        const float* G = gout(r).data();
        const std::size_t rows = d.b_shared ? d.batch * d.m : d.m;  // one big product when B is shared
        const std::size_t batches = d.b_shared ? 1 : d.batch;
        if (wants(r, 0)) {  // dA += dC B^T
            float* GA = grad(r, 0).data();
            for (std::size_t i = 0; i < batches; ++i)
                gemm(G + i * rows * d.n, false, B + i * d.k * d.n, true, GA + i * rows * d.k, rows, d.n, d.k, 1.0f);
        }
        if (wants(r, 1)) {  // dB += A^T dC
            float* GB = grad(r, 1).data();
            for (std::size_t i = 0; i < batches; ++i)
                gemm(A + i * rows * d.k, true, G + i * rows * d.n, false, GB + i * d.k * d.n, d.k, rows, d.n, 1.0f);
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
    const std::size_t n_in = ws[1], n_out = ws[0], rows = xs.numel() / std::max<std::size_t>(n_in, 1);
    Op op = has_bias ? Op("linear", {x, weight, bias}, xs.with(xs.rank() - 1, n_out)) : Op("linear", {x, weight}, xs.with(xs.rank() - 1, n_out));
    float* y = op.out().data();
    if (has_bias)  // start from the bias in every row, then accumulate the product (beta = 1)
        for (std::size_t r = 0; r < rows; ++r) std::copy_n(bias.value().data(), n_out, y + r * n_out);
    gemm(x.value().data(), false, weight.value().data(), true, y, rows, n_in, n_out, has_bias ? 1.0f : 0.0f);
    return op.finish([](Record& r) {
        const std::size_t n_in = in(r, 1).shape()[1], n_out = in(r, 1).shape()[0];
        const std::size_t rows = in(r, 0).numel() / std::max<std::size_t>(n_in, 1);
        const float* G = gout(r).data();
        if (wants(r, 0)) gemm(G, false, in(r, 1).data(), false, grad(r, 0).data(), rows, n_out, n_in, 1.0f);  // dx += dy W
        if (wants(r, 1)) gemm(G, true, in(r, 0).data(), false, grad(r, 1).data(), n_out, rows, n_in, 1.0f);  // dW += dy^T x
        if (r.inputs.size() == 3 && wants(r, 2)) {                                                        // db += sum dy
            float* db = grad(r, 2).data();
            for (std::size_t k = 0; k < rows; ++k)
                for (std::size_t j = 0; j < n_out; ++j) db[j] += G[k * n_out + j];
        }
    });
}

}  // namespace tg
