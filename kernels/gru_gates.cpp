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

#include <cmath>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "autograd/detail/op.hpp"
#include "kernels/kernels.hpp"

namespace tg::kernels {

namespace {

// One row of the forward in SIMD: sigmoid and tanh run a register of floats at once (the compiler
// cannot vectorise std::exp); the same code runs on single floats for the row's tail, and which
// elements take the vector path depends on the position only, so the same inputs give the same bits.
using Batch = xsimd::batch<float>;

template <class T> T load(const float* p) { if constexpr (std::is_same_v<T, float>) return *p; else return T::load_unaligned(p); }
inline void store(float* p, float v) { *p = v; }
inline void store(float* p, const Batch& v) { v.store_unaligned(p); }
template <class T> T sigmoid_of(const T& x) { using std::exp, xsimd::exp; return T(1.0f) / (T(1.0f) + exp(-x)); }
template <class T> T tanh_of(const T& x) { using std::tanh, xsimd::tanh; return tanh(x); }

// One step's gates at positions [k, k + width of T) of a row; gi and gh rows are [r; z; n] (3H).
template <class T>
void gates_at(std::size_t k, std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n,
              float* gh_n, float* h_new) {
    const T r_k = sigmoid_of(load<T>(gi + k) + load<T>(gh + k));
    const T z_k = sigmoid_of(load<T>(gi + H + k) + load<T>(gh + H + k));
    const T g_k = load<T>(gh + 2 * H + k);
    const T n_k = tanh_of(load<T>(gi + 2 * H + k) + r_k * g_k);
    store(h_new + k, (T(1.0f) - z_k) * n_k + z_k * load<T>(h + k));
    store(r + k, r_k), store(z + k, z_k), store(n + k, n_k), store(gh_n + k, g_k);
}


void gates_row(std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n,
                   float* gh_n, float* h_new) {
    std::size_t k = 0;
    for (; k + Batch::size <= H; k += Batch::size) gates_at<Batch>(k, H, gi, gh, h, r, z, n, gh_n, h_new);
    for (; k < H; ++k) gates_at<float>(k, H, gi, gh, h, r, z, n, gh_n, h_new);
}

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

}  // namespace tg::kernels
