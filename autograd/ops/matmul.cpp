// Matrix products: our own for AVX-512 (autograd/gemm_avx512.cpp) where it is compiled in, else
// OpenBLAS's cblas_sgemm (detail::sgemm chooses).
// Backward needs two more products per input pair; both accumulate straight into the gradient
// buffers (beta = 1), so no temporary matrix is ever built:
//     dA += dC B^T        dB += A^T dC
#include <fmt/format.h>

#include "autograd/detail/gemm.hpp"
#include "autograd/detail/op.hpp"
#include "autograd/profile.hpp"
#include "autograd/threads.hpp"

namespace tg {
using namespace detail;

namespace {

thread_local std::vector<GemmCall>* gemm_log = nullptr;

// C (m x n) = alpha * op(A) op(B) + beta * C, all row-major raw memory.
void gemm(const float* a, bool ta, const float* b, bool tb, float* c, std::size_t m, std::size_t k,
          std::size_t n, float beta) {
    static const int threads_set = num_threads();  // links threads.cpp, whose start-up sets the default
    (void)threads_set;
    log_gemm({ta, tb, m, n, k, beta});
    sgemm(a, ta, ta ? m : k, b, tb, tb ? k : n, c, n, m, n, k, beta);
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

void set_gemm_log(std::vector<GemmCall>* log) { gemm_log = log; }
void log_gemm(const GemmCall& call) {
    if (gemm_log) gemm_log->push_back(call);
}

namespace {

// The three products of a row vector a [k] and a matrix B [k, n], written as loops the compiler
// vectorises (each BLAS call costs more than these few thousand multiply-adds). With beta = 0 the
// output is overwritten without being read (it may hold garbage), as BLAS does.
void row_times_matrix(const float* a, const float* B, float* c, std::size_t k, std::size_t n) {  // c = a B
    std::fill_n(c, n, 0.0f);
    for (std::size_t j = 0; j < k; ++j)
        for (std::size_t x = 0; x < n; ++x) c[x] += a[j] * B[j * n + x];
}
void matrix_times_column(const float* B, const float* g, float* da, std::size_t k, std::size_t n, float beta) {  // da (+)= B g
    constexpr std::size_t kLanes = 16;  // separate partial sums, so the compiler can vectorise the dot products
    for (std::size_t j = 0; j < k; ++j) {
        const float* row = B + j * n;
        float lane[kLanes] = {};
        std::size_t x = 0;
        for (; x + kLanes <= n; x += kLanes)
            for (std::size_t l = 0; l < kLanes; ++l) lane[l] += row[x + l] * g[x + l];
        float s = 0.0f;
        for (; x < n; ++x) s += row[x] * g[x];
        for (float v : lane) s += v;
        da[j] = beta == 0.0f ? s : da[j] + s;
    }
}
void outer_product(const float* a, const float* g, float* dB, std::size_t k, std::size_t n, float beta) {  // dB (+)= a g^T
    for (std::size_t j = 0; j < k; ++j)
        for (std::size_t x = 0; x < n; ++x) dB[j * n + x] = (beta == 0.0f ? 0.0f : dB[j * n + x]) + a[j] * g[x];
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
    } else if (d.m == 1) {  // a batch of row vectors (attention's weighted sums): loops beat one BLAS call each
        for (std::size_t i = 0; i < d.batch; ++i) row_times_matrix(A + i * d.k, B + i * d.k * d.n, C + i * d.n, d.k, d.n);
    } else {
        for (std::size_t i = 0; i < d.batch; ++i)
            gemm(A + i * d.m * d.k, false, B + i * d.k * d.n, false, C + i * d.m * d.n, d.m, d.k, d.n, 0.0f);
    }
    return op.finish([](Record& r) {
        const Dims d = matmul_dims(r.input(0).shape(), r.input(1).shape());
        const float* A = r.input(0).data();
        const float* B = r.input(1).data();
        const float* G = r.grad_out().data();
        const std::size_t rows = d.b_shared ? d.batch * d.m : d.m;  // one big product when B is shared
        const std::size_t batches = d.b_shared ? 1 : d.batch;
        float beta = 1.0f;
        if (r.needs_grad(0)) {  // dA += dC B^T
            float* GA = grad_to_write(r, 0, beta).data();
            for (std::size_t i = 0; i < batches; ++i) {
                if (rows == 1) matrix_times_column(B + i * d.k * d.n, G + i * d.n, GA + i * d.k, d.k, d.n, beta);
                else gemm(G + i * rows * d.n, false, B + i * d.k * d.n, true, GA + i * rows * d.k, rows, d.n, d.k, beta);
            }
        }
        if (r.needs_grad(1)) {  // dB += A^T dC
            float* GB = grad_to_write(r, 1, beta).data();
            for (std::size_t i = 0; i < batches; ++i) {
                if (rows == 1) outer_product(A + i * d.k, G + i * d.n, GB + i * d.k * d.n, d.k, d.n, beta);
                else gemm(A + i * rows * d.k, true, G + i * rows * d.n, false, GB + i * d.k * d.n, d.k, rows, d.n, beta);
            }
        }
    });
}

namespace {

// A weight used at every step of a recurrence (a GRU's W_h, the decoder's input weight, attention's
// query weight) gets one gradient product per step, dW += dy_t^T x_t, each over the batch's few rows
// (32 in the examples). OpenBLAS runs such thin products no faster on two threads than on one (98
// GFLOP/s for a [768, 256] weight), while their sum, one product over all the steps' rows, runs at
// 171 (docs/performance.md); our own product does not split them at all (too small to be worth it).
// So with more than one thread linear's backward keeps a Parameter's thin pieces, and when the sweep
// ends each weight's are gathered into two blocks and summed in one product, which two threads share.
// (On one thread the gathering would only add copies.)
struct WeightGradPiece {
    Node* weight;     // a Parameter: its gradient exists, to add into
    const float* x;   // [rows, in]: the forward's input, alive until the tape is released
    const float* dy;  // [rows, out]: the output's gradient, complete once its record has run
    std::size_t rows;
};
constexpr std::size_t kThinRows = 128;  // fewer rows than this: deferred
thread_local std::vector<WeightGradPiece> pending_weight_grads;

// Anomaly mode checks each record's gradients as it runs; these arrive after the sweep, so here.
void check_finite(const Node& w) {
    if (!all_finite(w.grad))
        throw AnomalyError(fmt::format("anomaly: backward of 'linear' produced NaN or Inf in the gradient of the "
                                       "weight {} (shape {}), summed over its steps at the end of the sweep",
                                       w.name.empty() ? "(unnamed)" : w.name, w.value.shape().str()));
}

void sum_weight_grads(bool completed) {  // Tape::at_sweep_end
    std::vector<WeightGradPiece>& pieces = pending_weight_grads;
    struct Forget {  // whatever happens, none of these pieces outlives this sweep
        std::vector<WeightGradPiece>& p;
        ~Forget() { p.clear(); }
    } forget{pieces};
    thread_local FloatBuffer xs, dys;  // the gathered rows, reused
    for (std::size_t i = 0; completed && i < pieces.size(); ++i) {
        Node* w = pieces[i].weight;
        if (w == nullptr) continue;  // summed with an earlier piece of its weight
        const std::size_t n_out = w->value.shape()[0], n_in = w->value.shape()[1];
        std::size_t rows = 0;
        for (std::size_t j = i; j < pieces.size(); ++j) rows += pieces[j].weight == w ? pieces[j].rows : 0;
        if (rows == pieces[i].rows) {  // used once (not in a recurrence): its product as it is, no gathering
            gemm(pieces[i].dy, true, pieces[i].x, false, w->grad.data(), n_out, rows, n_in, 1.0f);
        } else {
            xs.resize_discard(rows * n_in);
            dys.resize_discard(rows * n_out);
            std::size_t at = 0;
            for (std::size_t j = i; j < pieces.size(); ++j) {
                if (pieces[j].weight != w) continue;
                std::copy_n(pieces[j].x, pieces[j].rows * n_in, xs.data() + at * n_in);
                std::copy_n(pieces[j].dy, pieces[j].rows * n_out, dys.data() + at * n_out);
                at += pieces[j].rows;
                pieces[j].weight = nullptr;
            }
            gemm(dys.data(), true, xs.data(), false, w->grad.data(), n_out, rows, n_in, 1.0f);  // dW += DY^T X
        }
        if (anomaly_mode()) check_finite(*w);
    }
}

}  // namespace

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
        const std::size_t n_in = r.input(1).shape()[1], n_out = r.input(1).shape()[0];
        const std::size_t rows = r.input(0).numel() / std::max<std::size_t>(n_in, 1);
        const float* G = r.grad_out().data();
        float beta = 1.0f;
        if (r.needs_grad(0)) {  // dx += dy W
            float* dx = grad_to_write(r, 0, beta).data();
            gemm(G, false, r.input(1).data(), false, dx, rows, n_out, n_in, beta);
        }
        if (r.needs_grad(1)) {  // dW += dy^T x
            if (Node& w = *r.inputs[1]; w.tape == nullptr && rows < kThinRows && num_threads() > 1) {  // later
                pending_weight_grads.push_back({&w, r.input(0).data(), G, rows});
                r.output->tape->at_sweep_end(sum_weight_grads);
            } else {
                float* dw = grad_to_write(r, 1, beta).data();
                gemm(G, true, r.input(0).data(), false, dw, n_out, rows, n_in, beta);
            }
        }
        if (r.inputs.size() == 3 && r.needs_grad(2)) {                                                        // db += sum dy
            float* db = r.grad_in(2).data();
            for (std::size_t k = 0; k < rows; ++k)
                for (std::size_t j = 0; j < n_out; ++j) db[j] += G[k * n_out + j];
        }
    });
}

}  // namespace tg
