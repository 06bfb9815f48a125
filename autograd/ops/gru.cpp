// gru_gates: the gate arithmetic of one GRU step (the paper's Appendix A.1.1, in the form of cuDNN and
// PyTorch's nn.GRU: reset after the recurrent product, z weighting the old state; docs/paper-to-code.md).
// With the input and recurrent projections gi = W_i x + b_i and gh = W_h h + b_h, each [B, 3H] and
// stacked [r; z; n]:
//     r  = sigmoid(gi_r + gh_r)          reset gate
//     z  = sigmoid(gi_z + gh_z)          update gate
//     n  = tanh(gi_n + r * gh_n)         candidate state
//     h' = (1 - z) * n + z * h           new state
// Composed from slice, add, sigmoid, tanh and mul that is 14 records a step, each a pass over [B, H]
// with its own temporary (the slices are copies); fused, one pass forward keeps r, z, n and gh_n for
// backward, and one pass backward writes all three gradients. tests/test_ops_grad.cpp checks this op's
// gradients and that it agrees with the composed form.
#include <fmt/format.h>

#include <cmath>

#include "autograd/detail/op.hpp"
#include "kernels/kernels.hpp"

namespace tg {

namespace {

// One row of the forward (the reference; kernels/fused_rows.cpp has it in SIMD). gi and gh rows are
// [r; z; n] (3H); r, z, n and gh_n are kept for backward.
// <doc:gru-gates>
void gates_row(std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n,
               float* gh_n, float* h_new) {
    if constexpr (kernels::enabled) return kernels::gru_gates_row(H, gi, gh, h, r, z, n, gh_n, h_new);
    auto sigmoid = [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
    for (std::size_t k = 0; k < H; ++k) {
        r[k] = sigmoid(gi[k] + gh[k]);                   // r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z[k] = sigmoid(gi[H + k] + gh[H + k]);           // z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        gh_n[k] = gh[2 * H + k];
        n[k] = std::tanh(gi[2 * H + k] + r[k] * gh_n[k]);  // n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h_new[k] = (1.0f - z[k]) * n[k] + z[k] * h[k];   // h' = (1 - z) * n + z * h
    }
}
// </doc:gru-gates>

}  // namespace

Var gru_gates(const Var& gi, const Var& gh, const Var& h) {
    const Shape &is = gi.shape(), &hs = gh.shape(), &s = h.shape();
    if (s.rank() != 2 || !(is == Shape{s[0], 3 * s[1]}) || !(hs == is))
        throw ShapeError(fmt::format("gru_gates: expected gi [B, 3H], gh [B, 3H] and h [B, H], got {}, {} and {}", is.str(),
                                     hs.str(), s.str()));
    const std::size_t B = s[0], H = s[1];
    Op op("gru_gates", {gi, gh, h}, s);
    FloatBuffer& saved = op.saved();  // per row: r, z, n, gh_n (4H floats), for backward
    saved.resize_discard(B * 4 * H);
    for (std::size_t b = 0; b < B; ++b) {
        float* r = saved.data() + b * 4 * H;
        gates_row(H, gi.value().data() + b * 3 * H, gh.value().data() + b * 3 * H, h.value().data() + b * H, r, r + H,
                  r + 2 * H, r + 3 * H, op.out().data() + b * H);
    }
    // Backward, from dh': dz = dh' (h - n), dn = dh' (1 - z), dh = dh' z; through the activations
    // da_n = dn (1 - n^2), da_r = (da_n gh_n) r (1 - r), da_z = dz z (1 - z); then
    // dgi = [da_r, da_z, da_n] and dgh = [da_r, da_z, da_n r].
    return op.finish([](Record& rec) {
        const std::size_t B = rec.out().shape()[0], H = rec.out().shape()[1];
        const float *d = rec.grad_out().data(), *h = rec.input(2).data();
        float* dgi = rec.needs_grad(0) ? rec.grad_in(0).data() : nullptr;
        float* dgh = rec.needs_grad(1) ? rec.grad_in(1).data() : nullptr;
        float* dh = rec.needs_grad(2) ? rec.grad_in(2).data() : nullptr;
        for (std::size_t b = 0; b < B; ++b, d += H, h += H) {
            const float *r = rec.saved.data() + b * 4 * H, *z = r + H, *n = z + H, *gh_n = n + H;
            float *gi_row = dgi ? dgi + b * 3 * H : nullptr, *gh_row = dgh ? dgh + b * 3 * H : nullptr;
#pragma GCC ivdep  // each position k reads and writes its own elements only: vectorise without alias checks
            for (std::size_t k = 0; k < H; ++k) {
                const float da_n = d[k] * (1.0f - z[k]) * (1.0f - n[k] * n[k]);     // through n = tanh(...)
                const float da_r = da_n * gh_n[k] * r[k] * (1.0f - r[k]);           // through r = sigmoid(...)
                const float da_z = d[k] * (h[k] - n[k]) * z[k] * (1.0f - z[k]);     // through z = sigmoid(...)
                if (gi_row) gi_row[k] += da_r, gi_row[H + k] += da_z, gi_row[2 * H + k] += da_n;
                if (gh_row) gh_row[k] += da_r, gh_row[H + k] += da_z, gh_row[2 * H + k] += da_n * r[k];
                if (dh) dh[b * H + k] += d[k] * z[k];
            }
        }
    });
}

}  // namespace tg
