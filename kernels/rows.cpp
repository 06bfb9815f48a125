// Rows of floats with SIMD: the max, sum and log-sum-exp of cross-entropy and its gradient row (whose
// references are the loops of autograd/ops/softmax.cpp), and the decoders' row helpers
// (kernels/rows.hpp; their references are in kernels/reference.cpp): xsimd's exp runs a register of floats at once,
// where the compiler cannot vectorise std::exp. Unaligned loads throughout: which elements take the
// vector path depends on the position in the row only, never its address, so the same inputs always
// give the same bits.
#include <cmath>
#include <limits>
#include <xsimd/xsimd.hpp>

#include "kernels/kernels.hpp"
#include "kernels/rows.hpp"

namespace tg::kernels {

using Batch = xsimd::batch<float>;  // as many floats as the CPU's vector registers hold
namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}  // namespace

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

namespace {
float log_sum_exp_shifted(const float* x, std::size_t n, float m) {  // m + log sum exp(x - m), m the largest
    std::size_t c = 0;
    Batch zv(0.0f);
    for (; c + Batch::size <= n; c += Batch::size) zv += xsimd::exp(Batch::load_unaligned(x + c) - Batch(m));
    float z = xsimd::hadd(zv);
    for (; c < n; ++c) z += std::exp(x[c] - m);
    return m + std::log(z);
}
}  // namespace

float log_sum_exp(const float* x, std::size_t n) { return log_sum_exp_shifted(x, n, max_of(x, n)); }

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

}  // namespace tg::kernels

namespace tg {

float log_sum_exp(std::span<const float> row) {
    return row.empty() ? -std::numeric_limits<float>::infinity() : kernels::log_sum_exp(row.data(), row.size());
}

float log_sum_exp(std::span<const float> row, float largest) {
    return row.empty() ? -std::numeric_limits<float>::infinity() : kernels::log_sum_exp_shifted(row.data(), row.size(), largest);
}

std::size_t argmax(std::span<const float> row) {
    const float m = kernels::max_of(row.data(), row.size());  // then where it first occurs: a register at a time
    std::size_t c = 0;
    for (; c + kernels::Batch::size <= row.size(); c += kernels::Batch::size)
        if (xsimd::any(kernels::Batch::load_unaligned(row.data() + c) == kernels::Batch(m))) break;
    for (; c < row.size(); ++c)
        if (row[c] == m) return c;
    return 0;  // empty, or only NaN
}

void top_k(std::span<const float> row, std::size_t k, std::vector<std::pair<float, std::int32_t>>& out) {
    out.clear();
    k = std::min(k, row.size());
    if (k == 0) return;
    auto offer = [&](std::size_t c) {  // keeps out sorted, at most k long (as the reference does)
        const float x = row[c];
        if (out.size() == k && !(x > out.back().first)) return;
        std::size_t at = out.size();
        while (at > 0 && x > out[at - 1].first) --at;
        if (out.size() == k) out.pop_back();
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), {x, static_cast<std::int32_t>(c)});
    };
    std::size_t c = 0;
    for (; c < row.size() && out.size() < k; ++c) offer(c);
    // Once k are held, nearly every value of a long row is below the k-th best: a whole register of
    // them is rejected by one comparison, and only a register with a candidate is looked at value by value.
    for (; c + kernels::Batch::size <= row.size(); c += kernels::Batch::size)
        if (xsimd::any(kernels::Batch::load_unaligned(row.data() + c) > kernels::Batch(out.back().first)))
            for (std::size_t j = c; j < c + kernels::Batch::size; ++j) offer(j);
    for (; c < row.size(); ++c) offer(c);
}

}  // namespace tg
