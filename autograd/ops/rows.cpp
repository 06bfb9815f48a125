// What a decoder does with a row of logits, outside any tape: its log-sum-exp, its largest value, its
// k largest. Not ops (nothing is recorded); here because the decoders call them once per word over a
// vocabulary of thousands, and kernels/rows.cpp has the SIMD versions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/ops.hpp"
#include "kernels/kernels.hpp"

namespace tg {

float log_sum_exp(std::span<const float> row) {
    if (row.empty()) return -std::numeric_limits<float>::infinity();
    if constexpr (kernels::enabled) return kernels::log_sum_exp(row.data(), row.size());
    const float m = *std::max_element(row.begin(), row.end());
    double z = 0.0;
    for (float x : row) z += std::exp(x - m);
    return m + static_cast<float>(std::log(z));
}

std::size_t argmax(std::span<const float> row) {
    if (row.empty()) return 0;
    float m = -std::numeric_limits<float>::infinity();  // the largest, then where it first occurs (the max kernel finds it in SIMD)
    if constexpr (kernels::enabled) m = kernels::max_of(row.data(), row.size());
    else for (float x : row) m = std::max(m, x);
    for (std::size_t c = 0; c < row.size(); ++c)
        if (row[c] == m) return c;
    return 0;  // only NaN
}

void top_k(std::span<const float> row, std::size_t k, std::vector<std::pair<float, std::int32_t>>& out) {
    if constexpr (kernels::enabled) return kernels::top_k(row, k, out);
    out.clear();
    k = std::min(k, row.size());
    for (std::size_t c = 0; c < row.size() && k > 0; ++c) {  // out stays sorted, at most k long
        const float x = row[c];
        if (out.size() == k && !(x > out.back().first)) continue;  // not above the k-th best so far
        std::size_t at = out.size();
        while (at > 0 && x > out[at - 1].first) --at;  // after equal ones: the earlier position stays first
        if (out.size() == k) out.pop_back();
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), {x, static_cast<std::int32_t>(c)});
    }
}

}  // namespace tg
