// kernels::gru_gates: the gate arithmetic of one GRU step (the paper's Appendix A.1.1, in the form of cuDNN and
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
// gradients and that it agrees with the composed form, which is the reference: layers/gru_cell.cpp
// runs it in a build without kernels.
#include <fmt/format.h>

#include "autograd/detail/op.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd.hpp"

namespace tg::kernels {

Var gru_gates(const Var& gi, const Var& gh, const Var& h) {
    const Shape &is = gi.shape(), &hs = gh.shape(), &s = h.shape();
    if (s.rank() != 2 || !(is == Shape{s[0], 3 * s[1]}) || !(hs == is))
        throw ShapeError(fmt::format("gru_gates: expected gi [B, 3H], gh [B, 3H] and h [B, H], got {}, {} and {}", is.str(),
                                     hs.str(), s.str()));
    const std::size_t B = s[0], H = s[1];
    Op op("gru_gates", {gi, gh, h}, s);
    FloatBuffer& saved = op.saved();  // per row: r, z, n, gh_n (4H floats), for backward
    saved.resize_discard(B * 4 * H);
    const simd::Rows& rows = simd::rows();  // one row of the arithmetic, in SIMD (kernels/simd_rows.cpp)
    for (std::size_t b = 0; b < B; ++b) {
        float* r = saved.data() + b * 4 * H;
        rows.gates_row(H, gi.value().data() + b * 3 * H, gh.value().data() + b * 3 * H, h.value().data() + b * H, r, r + H,
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
        const simd::Rows& rows = simd::rows();
        for (std::size_t b = 0; b < B; ++b) {
            const float* r = rec.saved.data() + b * 4 * H;  // r, z, n, gh_n
            rows.gates_backward_row(H, d + b * H, h + b * H, r, r + H, r + 2 * H, r + 3 * H, dgi ? dgi + b * 3 * H : nullptr,
                                    dgh ? dgh + b * 3 * H : nullptr, dh ? dh + b * H : nullptr);
        }
    });
}

}  // namespace tg::kernels
