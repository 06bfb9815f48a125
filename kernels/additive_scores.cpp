// kernels::additive_scores: the alignment model of Bahdanau attention as one op,
//     e[b, s] = v . tanh(q[b] + keys[b, s])          (the paper's Eq. 6 with A.1.2's a(s_{i-1}, h_j))
// Composed from add, tanh and matmul it writes and reads three [B, S, A] temporaries at every decoder
// step and runs a one-column product; fused, one pass forward keeps tanh's values (for backward) and
// one pass backward writes every gradient. tests/test_ops_grad.cpp checks this op's gradients and that
// it agrees with the composed form, which is the reference: layers/attention.cpp runs it in a build
// without kernels.
#include <fmt/format.h>

#include "autograd/detail/op.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd.hpp"

namespace tg::kernels {

// With G queries per set of keys (query [B*G, A]: beam search's G hypotheses of a sentence), query
// row r reads the keys of sentence r / G: the keys are not repeated G times, and their gradient sums
// over the G queries.
Var additive_scores(const Var& query, const Var& keys, const Var& v) {
    const Shape &qs = query.shape(), &ks = keys.shape();
    if (ks.rank() != 3 || qs.rank() != 2 || ks[0] == 0 || qs[0] % ks[0] != 0 || qs[0] == 0 || qs[1] != ks[2] ||
        !(v.shape() == Shape{ks[2]}))
        throw ShapeError(fmt::format("additive_scores: expected query [B, A] (or [B*G, A]), keys [B, S, A] and v [A], got "
                                     "{}, {} and {}",
                                     qs.str(), ks.str(), v.shape().str()));
    const std::size_t Q = qs[0], G = Q / ks[0], S = ks[1], A = ks[2];
    Op op("additive_scores", {query, keys, v}, Shape{Q, S});
    FloatBuffer& energy = op.saved();  // tanh(q + keys) [Q, S, A], for backward
    energy.resize_discard(Q * S * A);
    const float *q = query.value().data(), *k = keys.value().data(), *vv = v.value().data();
    float* e = op.out().data();
    const simd::Rows& rows = simd::rows();  // one score in SIMD (kernels/simd_rows.cpp)
    for (std::size_t r = 0; r < Q; ++r)
        for (std::size_t s = 0; s < S; ++s)
            e[r * S + s] = rows.score_row(q + r * A, k + (r / G * S + s) * A, vv, energy.data() + (r * S + s) * A, A);
    // With u = 1 - tanh^2 and t[r,s,a] = de[r,s] v[a] u:  dkeys[r/G] += t,  dq[r] = sum_s t,  dv = sum_{r,s} de tanh.
    return op.finish([](Record& r) {
        const std::size_t Q = r.input(0).shape()[0], S = r.input(1).shape()[1], A = r.input(1).shape()[2];
        const std::size_t G = Q / r.input(1).shape()[0];
        const float *E = r.saved.data(), *de = r.grad_out().data(), *v = r.input(2).data();
        float* dk = r.needs_grad(1) ? r.grad_in(1).data() : nullptr;
        float* dq = r.needs_grad(0) ? r.grad_in(0).data() : nullptr;
        float* dv = r.needs_grad(2) ? r.grad_in(2).data() : nullptr;
        const simd::Rows& rows = simd::rows();
        for (std::size_t row = 0; row < Q; ++row)
            for (std::size_t s = 0; s < S; ++s)
                rows.score_backward_row(de[row * S + s], E + (row * S + s) * A, v, dk ? dk + (row / G * S + s) * A : nullptr,
                                        dq ? dq + row * A : nullptr, dv, A);
    });
}

}  // namespace tg::kernels
