// The forward rows of the fused ops gru_gates (autograd/ops/gru.cpp) and additive_scores
// (autograd/ops/attention.cpp), in SIMD: their sigmoid and tanh run a register of floats at once
// with xsimd, where the compiler cannot vectorise std::exp or std::tanh. The same code runs on a
// register and, for a row's tail, on single floats; which elements take the vector path depends on the
// position only, so the same inputs always give the same bits.
#include <cmath>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/kernels.hpp"

namespace tg::kernels {

namespace {

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

}  // namespace

void gru_gates_row(std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n,
                   float* gh_n, float* h_new) {
    std::size_t k = 0;
    for (; k + Batch::size <= H; k += Batch::size) gates_at<Batch>(k, H, gi, gh, h, r, z, n, gh_n, h_new);
    for (; k < H; ++k) gates_at<float>(k, H, gi, gh, h, r, z, n, gh_n, h_new);
}

float score_row(const float* q, const float* k, const float* v, float* energy, std::size_t A) {
    Batch acc(0.0f);
    std::size_t a = 0;
    for (; a + Batch::size <= A; a += Batch::size) {
        const Batch e = xsimd::tanh(Batch::load_unaligned(q + a) + Batch::load_unaligned(k + a));
        e.store_unaligned(energy + a);
        acc = xsimd::fma(e, Batch::load_unaligned(v + a), acc);
    }
    float score = xsimd::hadd(acc);
    for (; a < A; ++a) {
        energy[a] = std::tanh(q[a] + k[a]);
        score += energy[a] * v[a];
    }
    return score;
}

}  // namespace tg::kernels
