// The row kernels of kernels/kernels.hpp and the decoders' row helpers (kernels/rows.hpp; their
// references are the loops of autograd/ops/softmax.cpp and kernels/reference.cpp), on the SIMD
// table this CPU runs (kernels/simd.hpp says why a table).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/rows.hpp"
#include "kernels/simd.hpp"

namespace tg::kernels {

namespace simd {

#if TAPEGRAD_SIMD_PORTABLE  // three copies compiled (meson.build): the widest this CPU runs
extern const Rows rows_avx512, rows_avx2, rows_sse2;
std::span<const Rows* const> all_rows() {
    static const std::vector<const Rows*> usable = [] {
        __builtin_cpu_init();
        std::vector<const Rows*> r;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))  // Skylake-X's set, as compiled
            r.push_back(&rows_avx512);
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) r.push_back(&rows_avx2);
        r.push_back(&rows_sse2);  // every x86-64 has SSE2
        return r;
    }();
    return usable;
}
#else  // one copy, compiled for the CPU that builds it (or for whatever the compiler targets)
extern const Rows rows_native;
std::span<const Rows* const> all_rows() {
    static const Rows* const only[] = {&rows_native};
    return only;
}
#endif

const Rows& rows() {
    static const Rows& widest = *all_rows().front();
    return widest;
}

}  // namespace simd

float max_of(const float* x, std::size_t n) { return simd::rows().max_of(x, n); }
float sum_of(const float* x, std::size_t n) { return simd::rows().sum_of(x, n); }
float log_sum_exp(const float* x, std::size_t n) { return simd::rows().log_sum_exp_shifted(x, n, max_of(x, n)); }
void add_scaled_exp(const float* x, float shift, float g, float* out, std::size_t n, float minus) {
    simd::rows().add_scaled_exp(x, shift, g, out, n, minus);
}
float exp_in_place(float* y, std::size_t n) { return simd::rows().exp_in_place(y, n); }

}  // namespace tg::kernels

namespace tg {

float log_sum_exp(std::span<const float> row) {
    return row.empty() ? -std::numeric_limits<float>::infinity() : kernels::log_sum_exp(row.data(), row.size());
}

float log_sum_exp(std::span<const float> row, float largest) {
    return row.empty() ? -std::numeric_limits<float>::infinity()
                       : kernels::simd::rows().log_sum_exp_shifted(row.data(), row.size(), largest);
}

std::size_t argmax(std::span<const float> row) {
    const float m = kernels::max_of(row.data(), row.size());  // then where it first occurs: a register at a time
    const std::size_t at = kernels::simd::rows().find_equal(row.data(), 0, row.size(), m);
    return at < row.size() ? at : 0;  // empty, or only NaN
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
    const kernels::simd::Rows& rows = kernels::simd::rows();
    while (c + rows.width <= row.size()) {
        c = rows.find_register_above(row.data(), c, row.size(), out.back().first);
        if (c + rows.width > row.size()) break;
        for (const std::size_t end = c + rows.width; c < end; ++c) offer(c);
    }
    for (; c < row.size(); ++c) offer(c);
}

}  // namespace tg
