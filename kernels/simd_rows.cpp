// The SIMD loops of kernels/simd.hpp, compiled once per instruction set: TAPEGRAD_SIMD names the
// table this copy defines (meson.build compiles the file with each set's flags). Everything else here
// is this file's own (an unnamed namespace), so the copies never share a function.
//
// xsimd's exp and tanh run a register of floats at once, where the compiler cannot vectorise
// std::exp. Unaligned loads throughout: which elements take the vector path depends on the position
// in the row only, never its address, so the same inputs always give the same bits.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/simd.hpp"

#ifndef TAPEGRAD_SIMD
#error "kernels/simd_rows.cpp is compiled with -DTAPEGRAD_SIMD=<name> (meson.build)"
#endif
#define TAPEGRAD_STRING(x) #x
#define TAPEGRAD_NAME(x) TAPEGRAD_STRING(x)
#define TAPEGRAD_JOIN(a, b) a##b
#define TAPEGRAD_TABLE(name) TAPEGRAD_JOIN(rows_, name)

namespace tg::kernels::simd {

namespace {

using Batch = xsimd::batch<float>;  // as many floats as this copy's vector registers hold
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------- rows of logits

float max_of(const float* x, std::size_t n) {
    std::size_t c = 0;
    Batch mv(kNegInf);
    for (; c + Batch::size <= n; c += Batch::size) mv = xsimd::max(mv, Batch::load_unaligned(x + c));
    alignas(64) float lanes[Batch::size];  // (Debian 12's xsimd 8 has no reduce_max)
    mv.store_aligned(lanes);
    float m = kNegInf;
    for (float l : lanes) m = std::max(m, l);
    for (; c < n; ++c) m = std::max(m, x[c]);
    return m;
}

float sum_of(const float* x, std::size_t n) {
    std::size_t c = 0;
    Batch sv(0.0f);
    for (; c + Batch::size <= n; c += Batch::size) sv += Batch::load_unaligned(x + c);
    float s = xsimd::hadd(sv);
    for (; c < n; ++c) s += x[c];
    return s;
}

float log_sum_exp_shifted(const float* x, std::size_t n, float m) {
    std::size_t c = 0;
    Batch zv(0.0f);
    for (; c + Batch::size <= n; c += Batch::size) zv += xsimd::exp(Batch::load_unaligned(x + c) - Batch(m));
    float z = xsimd::hadd(zv);
    for (; c < n; ++c) z += std::exp(x[c] - m);
    return m + std::log(z);
}

void add_scaled_exp(const float* x, float shift, float g, float* out, std::size_t n, float minus) {
    std::size_t c = 0;
    for (; c + Batch::size <= n; c += Batch::size) {
        const Batch v = Batch(g) * xsimd::exp(Batch::load_unaligned(x + c) - Batch(shift)) - Batch(minus);
        (Batch::load_unaligned(out + c) + v).store_unaligned(out + c);
    }
    for (; c < n; ++c) out[c] += g * std::exp(x[c] - shift) - minus;
}

float exp_in_place(float* y, std::size_t n) {
    std::size_t c = 0;
    Batch sv(0.0f);
    for (; c + Batch::size <= n; c += Batch::size) {
        const Batch e = xsimd::exp(Batch::load_unaligned(y + c));
        e.store_unaligned(y + c);
        sv += e;
    }
    float s = xsimd::hadd(sv);
    for (; c < n; ++c) s += (y[c] = std::exp(y[c]));
    return s;
}

std::size_t find_equal(const float* x, std::size_t from, std::size_t n, float value) {
    std::size_t c = from;
    for (; c + Batch::size <= n; c += Batch::size)
        if (xsimd::any(Batch::load_unaligned(x + c) == Batch(value))) break;
    for (; c < n; ++c)
        if (x[c] == value) return c;
    return n;
}

std::size_t find_register_above(const float* x, std::size_t from, std::size_t n, float bound) {
    std::size_t c = from;
    for (; c + Batch::size <= n; c += Batch::size)
        if (xsimd::any(Batch::load_unaligned(x + c) > Batch(bound))) return c;
    return c;
}

// ---------------------------------------------------------------- the GRU's gates

template <class T> T load(const float* p) { if constexpr (std::is_same_v<T, float>) return *p; else return T::load_unaligned(p); }
void store(float* p, float v) { *p = v; }
void store(float* p, const Batch& v) { v.store_unaligned(p); }
template <class T> T sigmoid_of(const T& x) { using std::exp, xsimd::exp; return T(1.0f) / (T(1.0f) + exp(-x)); }
template <class T> T tanh_of(const T& x) { using std::tanh, xsimd::tanh; return tanh(x); }

// One step's gates at positions [k, k + width of T) of a row; gi and gh rows are [r; z; n] (3H). The
// same code runs on single floats for the row's tail.
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

void gates_row(std::size_t H, const float* gi, const float* gh, const float* h, float* r, float* z, float* n, float* gh_n,
               float* h_new) {
    std::size_t k = 0;
    for (; k + Batch::size <= H; k += Batch::size) gates_at<Batch>(k, H, gi, gh, h, r, z, n, gh_n, h_new);
    for (; k < H; ++k) gates_at<float>(k, H, gi, gh, h, r, z, n, gh_n, h_new);
}

// From dh' (d): dz = d (h - n), dn = d (1 - z), dh = d z; through the activations da_n = dn (1 - n^2),
// da_r = (da_n gh_n) r (1 - r), da_z = dz z (1 - z); then dgi = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n r].
void gates_backward_row(std::size_t H, const float* d, const float* h, const float* r, const float* z, const float* n,
                        const float* gh_n, float* dgi, float* dgh, float* dh) {
#pragma GCC ivdep  // each position k reads and writes its own elements only: vectorise without alias checks
    for (std::size_t k = 0; k < H; ++k) {
        const float da_n = d[k] * (1.0f - z[k]) * (1.0f - n[k] * n[k]);  // through n = tanh(...)
        const float da_r = da_n * gh_n[k] * r[k] * (1.0f - r[k]);        // through r = sigmoid(...)
        const float da_z = d[k] * (h[k] - n[k]) * z[k] * (1.0f - z[k]);  // through z = sigmoid(...)
        if (dgi) dgi[k] += da_r, dgi[H + k] += da_z, dgi[2 * H + k] += da_n;
        if (dgh) dgh[k] += da_r, dgh[H + k] += da_z, dgh[2 * H + k] += da_n * r[k];
        if (dh) dh[k] += d[k] * z[k];
    }
}

// ---------------------------------------------------------------- additive attention's scores

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

// With u = 1 - energy^2 and t[a] = g v[a] u[a]: dk += t, dq += t, dv += g energy. One loop per
// gradient, each computing t again: a single loop writing all three no longer vectorises.
void score_backward_row(float g, const float* e, const float* v, float* dk, float* dq, float* dv, std::size_t A) {
    if (dk)
        for (std::size_t a = 0; a < A; ++a) dk[a] += g * v[a] * (1.0f - e[a] * e[a]);
    if (dq)
        for (std::size_t a = 0; a < A; ++a) dq[a] += g * v[a] * (1.0f - e[a] * e[a]);
    if (dv)
        for (std::size_t a = 0; a < A; ++a) dv[a] += g * e[a];
}

// ---------------------------------------------------------------- thin products

// y[c] += sum_p a[p] x[p ldx + c] for c < n, p < k: a row times a matrix of k rows. A stretch of y
// stays in registers while the k rows pass (one load and one store of y, not k of each).
void row_times(const float* a, const float* x, std::size_t ldx, float* y, std::size_t n, std::size_t k) {
    constexpr std::size_t W = Batch::size;
    std::size_t c = 0;
    for (; c + 4 * W <= n; c += 4 * W) {
        Batch y0 = Batch::load_unaligned(y + c), y1 = Batch::load_unaligned(y + c + W);
        Batch y2 = Batch::load_unaligned(y + c + 2 * W), y3 = Batch::load_unaligned(y + c + 3 * W);
        for (std::size_t p = 0; p < k; ++p) {
            const Batch ap(a[p]);
            const float* xp = x + p * ldx + c;
            y0 = xsimd::fma(ap, Batch::load_unaligned(xp), y0);
            y1 = xsimd::fma(ap, Batch::load_unaligned(xp + W), y1);
            y2 = xsimd::fma(ap, Batch::load_unaligned(xp + 2 * W), y2);
            y3 = xsimd::fma(ap, Batch::load_unaligned(xp + 3 * W), y3);
        }
        y0.store_unaligned(y + c), y1.store_unaligned(y + c + W), y2.store_unaligned(y + c + 2 * W), y3.store_unaligned(y + c + 3 * W);
    }
    for (; c + W <= n; c += W) {
        Batch y0 = Batch::load_unaligned(y + c);
        for (std::size_t p = 0; p < k; ++p) y0 = xsimd::fma(Batch(a[p]), Batch::load_unaligned(x + p * ldx + c), y0);
        y0.store_unaligned(y + c);
    }
    for (; c < n; ++c) {
        float s = y[c];
        for (std::size_t p = 0; p < k; ++p) s += a[p] * x[p * ldx + c];
        y[c] = s;
    }
}

float dot(const float* x, const float* y, std::size_t n) {
    constexpr std::size_t W = Batch::size;
    Batch s0(0.0f), s1(0.0f), s2(0.0f), s3(0.0f);
    std::size_t c = 0;
    for (; c + 4 * W <= n; c += 4 * W) {
        s0 = xsimd::fma(Batch::load_unaligned(x + c), Batch::load_unaligned(y + c), s0);
        s1 = xsimd::fma(Batch::load_unaligned(x + c + W), Batch::load_unaligned(y + c + W), s1);
        s2 = xsimd::fma(Batch::load_unaligned(x + c + 2 * W), Batch::load_unaligned(y + c + 2 * W), s2);
        s3 = xsimd::fma(Batch::load_unaligned(x + c + 3 * W), Batch::load_unaligned(y + c + 3 * W), s3);
    }
    for (; c + W <= n; c += W) s0 = xsimd::fma(Batch::load_unaligned(x + c), Batch::load_unaligned(y + c), s0);
    float s = xsimd::hadd((s0 + s1) + (s2 + s3));
    for (; c < n; ++c) s += x[c] * y[c];
    return s;
}

}  // namespace

extern const Rows TAPEGRAD_TABLE(TAPEGRAD_SIMD);
const Rows TAPEGRAD_TABLE(TAPEGRAD_SIMD) = {
    TAPEGRAD_NAME(TAPEGRAD_SIMD), max_of, sum_of, log_sum_exp_shifted, add_scaled_exp, exp_in_place, find_equal,
    find_register_above, Batch::size, gates_row, gates_backward_row, score_row, score_backward_row, row_times, dot,
};

}  // namespace tg::kernels::simd
