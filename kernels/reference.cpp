// kernels/'s public headers on the reference engine alone (built with -Dkernels=false, with
// kernels/packed_weight.cpp, instead of every other file of this folder): one thread, a "packed" weight
// that is the weight as it is, and the decoders' row helpers in plain loops, so that programs written
// for the fast build (the translator's decoders) build and run unchanged.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/error.hpp"
#include "autograd/op.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "kernels/kernels.hpp"
#include "kernels/packed.hpp"
#include "kernels/profile.hpp"
#include "kernels/rows.hpp"
#include "kernels/threads.hpp"

namespace tg {

void set_num_threads(int n) {
    if (n < 1) throw Error(fmt::format("set_num_threads: {} threads; need at least 1", n));
}
int num_threads() { return 1; }

void detail::parallel_for_impl(std::size_t parts, void (*call)(void*, std::size_t), void* job) {
    for (std::size_t i = 0; i < parts; ++i) call(job, i);
}

void set_gemm_log(std::vector<GemmCall>*) {}
void log_gemm(const GemmCall&) {}

PackedWeight::PackedWeight(const Tensor& weight) {
    if (weight.shape().rank() != 2)
        throw ShapeError(fmt::format("PackedWeight: weight {} is not [out, in]", weight.shape().str()));
    out_ = weight.shape()[0];
    in_ = weight.shape()[1];
    data_.assign(weight.data(), weight.data() + weight.numel());
}

Var linear(const Var& x, const PackedWeight& weight, const Var& bias) {  // y = x W^T + b, plain loops
    Op op = kernels::start_packed_linear(x, weight, bias);  // (checks that they fit)
    const Shape& xs = x.shape();
    const std::size_t n_in = weight.in_features(), n_out = weight.out_features();
    const bool has_bias = bias.defined();
    const float *in = x.value().data(), *w = weight.data();
    float* y = op.out().data();
    for (std::size_t r = 0; r < xs.numel() / std::max<std::size_t>(n_in, 1); ++r)
        for (std::size_t o = 0; o < n_out; ++o) {
            float s = has_bias ? bias.value().data()[o] : 0.0f;
            for (std::size_t i = 0; i < n_in; ++i) s += in[r * n_in + i] * w[o * n_in + i];
            y[r * n_out + o] = s;
        }
    return op.finish([](Record&) { throw TapeError("linear (packed) has no backward"); });
}

PackedWeightsScope::PackedWeightsScope(std::span<Parameter* const>) : previous_(nullptr) {}  // nothing to pack for
PackedWeightsScope::~PackedWeightsScope() = default;
const PackedWeight* PackedWeightsScope::find(const float*, bool, std::size_t, std::size_t) { return nullptr; }
std::size_t PackedWeightsScope::packed() const { return 0; }

// The decoders' row helpers (kernels/rows.hpp) in plain loops.
float log_sum_exp(std::span<const float> row) {
    return row.empty() ? -std::numeric_limits<float>::infinity() : log_sum_exp(row, *std::max_element(row.begin(), row.end()));
}

float log_sum_exp(std::span<const float> row, float m) {
    if (row.empty()) return -std::numeric_limits<float>::infinity();
    double z = 0.0;
    for (float x : row) z += std::exp(x - m);
    return m + static_cast<float>(std::log(z));
}

std::size_t argmax(std::span<const float> row) {
    if (row.empty()) return 0;
    float m = -std::numeric_limits<float>::infinity();  // the largest, then where it first occurs
    for (float x : row) m = std::max(m, x);
    for (std::size_t c = 0; c < row.size(); ++c)
        if (row[c] == m) return c;
    return 0;  // only NaN
}

void top_k(std::span<const float> row, std::size_t k, std::vector<std::pair<float, std::int32_t>>& out) {
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
