// gru_gates: the gate arithmetic of one GRU step (the paper's Appendix A.1.1, in the form of cuDNN and
// PyTorch's nn.GRU: reset after the recurrent product, z weighting the old state; docs/paper-to-code.md).
// With the input and recurrent projections gi = W_i x + b_i and gh = W_h h + b_h, each [B, 3H] and
// stacked [r; z; n]:
//     r  = sigmoid(gi_r + gh_r)          reset gate
//     z  = sigmoid(gi_z + gh_z)          update gate
//     n  = tanh(gi_n + r * gh_n)         candidate state
//     h' = (1 - z) * n + z * h           new state
// Composed from slice, add, sigmoid, tanh and mul that is 14 records a step, each a pass over [B, H]
// with its own temporary (the slices are copies); fused, one SIMD pass forward keeps r, z, n and gh_n
// for backward, and one pass backward writes all three gradients. The composed form stays the readable
// reference: tests/test_ops_grad.cpp checks this op's gradients and that both agree.
#include <fmt/format.h>

#include <cmath>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

namespace {

using Batch = xsimd::batch<float>;  // as many floats as the CPU's vector registers hold

// The same code for a vector of floats and for the row's scalar tail (as in ops/attention.cpp: which
// elements take the vector path depends on the position only, so the same inputs give the same bits).
template <class T> T load(const float* p) { if constexpr (std::is_same_v<T, float>) return *p; else return T::load_unaligned(p); }
inline void store(float* p, float v) { *p = v; }
inline void store(float* p, const Batch& v) { v.store_unaligned(p); }
template <class T> T sigmoid_of(const T& x) { using std::exp, xsimd::exp; return T(1.0f) / (T(1.0f) + exp(-x)); }
template <class T> T tanh_of(const T& x) { using std::tanh, xsimd::tanh; return tanh(x); }

// One step's gates at positions [k, k + width of T) of a row; gi and gh rows are [r; z; n] (3H).
// <doc:gru-gates>
template <class T>
void gates_at(std::size_t k, std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n,
              float* gh_n, float* h_new) {
    const T r_k = sigmoid_of(load<T>(gi + k) + load<T>(gh + k));               // r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    const T z_k = sigmoid_of(load<T>(gi + H + k) + load<T>(gh + H + k));       // z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    const T g_k = load<T>(gh + 2 * H + k);
    const T n_k = tanh_of(load<T>(gi + 2 * H + k) + r_k * g_k);                // n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    store(h_new + k, (T(1.0f) - z_k) * n_k + z_k * load<T>(h + k));           // h' = (1 - z) * n + z * h
    store(r + k, r_k), store(z + k, z_k), store(n + k, n_k), store(gh_n + k, g_k);  // for backward
}
// </doc:gru-gates>

// Backward at positions [k, k + width of T): the gates' gradients into one row da = [da_r, da_z, da_n]
// (3H), and dh = dh' z written (beta 0: over garbage) or added.
template <class T>
void gates_backward_at(std::size_t k, std::size_t H, const float* d, const float* h, const float* r, const float* z,
                       const float* n, const float* gh_n, float* da, float* dh, float beta_h) {
    const T d_k = load<T>(d + k), r_k = load<T>(r + k), z_k = load<T>(z + k), n_k = load<T>(n + k), one(1.0f);
    const T da_n = d_k * (one - z_k) * (one - n_k * n_k);                       // through n = tanh(...)
    store(da + k, da_n * load<T>(gh_n + k) * r_k * (one - r_k));                // through r = sigmoid(...)
    store(da + H + k, d_k * (load<T>(h + k) - n_k) * z_k * (one - z_k));        // through z = sigmoid(...)
    store(da + 2 * H + k, da_n);
    if (dh) store(dh + k, beta_h == 0.0f ? d_k * z_k : load<T>(dh + k) + d_k * z_k);
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
        const float *gi_b = gi.value().data() + b * 3 * H, *gh_b = gh.value().data() + b * 3 * H, *h_b = h.value().data() + b * H;
        float *r = saved.data() + b * 4 * H, *z = r + H, *n = z + H, *gh_n = n + H, *out = op.out().data() + b * H;
        std::size_t k = 0;
        for (; k + Batch::size <= H; k += Batch::size) gates_at<Batch>(k, H, gi_b, gh_b, h_b, r, z, n, gh_n, out);
        for (; k < H; ++k) gates_at<float>(k, H, gi_b, gh_b, h_b, r, z, n, gh_n, out);
    }
    // Backward, from dh': dz = dh' (h - n), dn = dh' (1 - z), dh = dh' z; through the activations
    // da_n = dn (1 - n^2), da_r = (da_n gh_n) r (1 - r), da_z = dz z (1 - z); then
    // dgi = [da_r, da_z, da_n] and dgh = [da_r, da_z, da_n r].
    return op.finish([](Record& rec) {
        const std::size_t B = rec.out().shape()[0], H = rec.out().shape()[1];
        float beta_i = 1.0f, beta_g = 1.0f, beta_h = 1.0f;  // 0: that buffer holds garbage, to overwrite
        float* dgi = rec.needs_grad(0) ? grad_to_write(rec, 0, beta_i).data() : nullptr;
        float* dgh = rec.needs_grad(1) ? grad_to_write(rec, 1, beta_g).data() : nullptr;
        float* dh = rec.needs_grad(2) ? grad_to_write(rec, 2, beta_h).data() : nullptr;
        float* scratch_row = scratch(Shape{3 * H}).data();
        for (std::size_t b = 0; b < B; ++b) {
            const float *r = rec.saved.data() + b * 4 * H, *z = r + H, *n = z + H, *gh_n = n + H;
            const float *d = rec.grad_out().data() + b * H, *h = rec.input(2).data() + b * H;
            float* dh_b = dh ? dh + b * H : nullptr;
            // One row's [da_r, da_z, da_n], straight into dgi when its buffer is fresh (beta 0).
            float* da = dgi && beta_i == 0.0f ? dgi + b * 3 * H : scratch_row;
            std::size_t k = 0;
            for (; k + Batch::size <= H; k += Batch::size) gates_backward_at<Batch>(k, H, d, h, r, z, n, gh_n, da, dh_b, beta_h);
            for (; k < H; ++k) gates_backward_at<float>(k, H, d, h, r, z, n, gh_n, da, dh_b, beta_h);
            if (dgi && da == scratch_row) write_or_add(dgi + b * 3 * H, da, 3 * H, 1.0f);
            if (dgh) {
                float* g = dgh + b * 3 * H;
                write_or_add(g, da, 2 * H, beta_g);
                for (std::size_t j = 0; j < H; ++j) {  // gh_n's gradient is da_n r
                    const float v = da[2 * H + j] * r[j];
                    g[2 * H + j] = beta_g == 0.0f ? v : g[2 * H + j] + v;
                }
            }
        }
    });
}

}  // namespace tg
