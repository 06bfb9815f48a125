// softmax, log_softmax and cross-entropy. All three shift by the maximum before exponentiating, so
// large logits never overflow. A `valid` mask removes positions from the normalisation: attention
// over padded sentences gives padding exactly zero weight (the paper's alpha_ij, Eq. 6).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/detail/op.hpp"
#include "kernels/kernels.hpp"

namespace tg {
using namespace detail;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Three loops over one row of logits, the reference and the SIMD kernel (kernels/rows.cpp) of each.
float sum_of(const float* x, std::size_t n) {  // x[0] + ... + x[n-1]
    if constexpr (kernels::enabled) return kernels::sum_of(x, n);
    double s = 0.0;  // (in double: the reference is the accurate one)
    for (std::size_t c = 0; c < n; ++c) s += x[c];
    return static_cast<float>(s);
}
double log_sum_exp(const float* x, std::size_t n) {  // log sum_c exp(x[c]), shifted by the largest: never overflows
    if constexpr (kernels::enabled) return kernels::log_sum_exp(x, n);
    float m = kNegInf;
    double z = 0.0;
    for (std::size_t c = 0; c < n; ++c) m = std::max(m, x[c]);
    for (std::size_t c = 0; c < n; ++c) z += std::exp(x[c] - m);
    return m + std::log(z);
}
void add_scaled_exp(const float* x, float shift, float g, float* out, std::size_t n, float minus) {  // out += g e^(x - shift) - minus
    if constexpr (kernels::enabled) return kernels::add_scaled_exp(x, shift, g, out, n, minus);
    for (std::size_t c = 0; c < n; ++c) out[c] += g * std::exp(x[c] - shift) - minus;
}

// Along one line (at(k): the index of its k-th element), the reference loop or, where the line is
// contiguous (softmax over the last axis, as attention's), the SIMD kernel: its largest value, and
// y = exp(y) in place (exp(-inf) = 0) returning the sum.
template <class At>
float largest(const float* y, At at, const AxisSplit& sp) {
    if constexpr (kernels::enabled)
        if (sp.inner == 1) return kernels::max_of(y + at(0), sp.n);
    float m = kNegInf;
    for (std::size_t k = 0; k < sp.n; ++k) m = std::max(m, y[at(k)]);
    return m;
}
template <class At>
float exp_in_place(float* y, At at, const AxisSplit& sp) {
    if constexpr (kernels::enabled)
        if (sp.inner == 1) return kernels::exp_in_place(y + at(0), sp.n);
    float total = 0.0f;
    for (std::size_t k = 0; k < sp.n; ++k) total += (y[at(k)] = std::exp(y[at(k)]));
    return total;
}

// Calls f(at) for every line of the tensor along the split axis: at(k) is the index of its k-th element.
template <class F>
void for_each_line(const AxisSplit& sp, F&& f) {
    if (sp.inner == 1) {  // lines along the last axis (attention's): a unit stride, which the compiler vectorises
        for (std::size_t o = 0; o < sp.outer; ++o) f([first = o * sp.n](std::size_t k) { return first + k; });
        return;
    }
    for (std::size_t o = 0; o < sp.outer; ++o)
        for (std::size_t i = 0; i < sp.inner; ++i) f([first = o * sp.n * sp.inner + i, &sp](std::size_t k) { return first + k * sp.inner; });
}

// y = softmax or log_softmax of x along the axis, over the positions the mask keeps (0 elsewhere; -inf
// in log space). Masked positions are -inf logits: exp gives them exactly 0, and backward knows them
// by their -inf in log space (softmax's needs no mask: their y = 0 gives them no gradient).
Var softmax_op(const char* name, const Var& x, int axis_in, const Var* valid, bool log_space) {
    const int axis = x.shape().axis(axis_in, name);
    if (valid && !(broadcast_shapes(valid->shape(), x.shape(), name) == x.shape()))  // before the Op: no record left behind
        throw ShapeError(fmt::format("{}: mask of shape {} does not broadcast to the input's shape {}", name,
                                     valid->shape().str(), x.shape().str()));
    Op op = valid ? Op(name, {x, *valid}, x.shape()) : Op(name, {x}, x.shape());
    const float* in = x.value().data();
    float* y = op.out().data();
    if (valid) {  // y = the logits where valid, -inf elsewhere
        const float* v = valid->value().data();
        for_each_row(x.shape(), broadcast_strides(valid->shape(), x.shape()), [&](std::size_t o, std::size_t i, std::size_t n, std::size_t step) {
            for (std::size_t k = 0; k < n; ++k) y[o + k] = v[i + k * step] != 0.0f ? in[o + k] : kNegInf;
        });
    } else {
        std::copy_n(in, x.numel(), y);
    }
    const AxisSplit sp = split_at(x.shape(), axis);
    for_each_line(sp, [&](auto at) {
        const float m = largest(y, at, sp);  // shifted by the largest: no exponential overflows
        if (m == kNegInf) {  // nothing valid: zero weights (log: all -inf), never NaN
            for (std::size_t k = 0; k < sp.n; ++k) y[at(k)] = log_space ? kNegInf : 0.0f;
            return;
        }
        for (std::size_t k = 0; k < sp.n; ++k) y[at(k)] -= m;
        if (log_space) {  // y - log sum exp(y)
            float total = 0.0f;
            for (std::size_t k = 0; k < sp.n; ++k) total += std::exp(y[at(k)]);
            const float log_total = std::log(total);
            for (std::size_t k = 0; k < sp.n; ++k) y[at(k)] -= log_total;
            return;
        }
        const float inverse = 1.0f / exp_in_place(y, at, sp);  // each exponential once, kept in y: softmax is y / total
        for (std::size_t k = 0; k < sp.n; ++k) y[at(k)] *= inverse;
    });
    op.set_attrs(Axis{axis});
    if (!log_space)  // dx_k = y_k (g_k - sum_j g_j y_j); masked y_k = 0 gives dx_k = 0
        return op.finish([](Record& r) {
            const AxisSplit sp = split_at(r.out().shape(), r.attrs<Axis>().axis);
            const float *y = r.out().data(), *g = r.grad_out().data();
            float* dx = r.grad_in(0).data();
            for_each_line(sp, [&](auto at) {
                float dot = 0.0f;
                for (std::size_t k = 0; k < sp.n; ++k) dot += g[at(k)] * y[at(k)];
                for (std::size_t k = 0; k < sp.n; ++k) dx[at(k)] += y[at(k)] * (g[at(k)] - dot);
            });
        });
    // log_softmax: dx_k = g_k - p_k sum_j g_j over the valid positions (y > -inf), with p = exp(y); masked: 0
    return op.finish([](Record& r) {
        const AxisSplit sp = split_at(r.out().shape(), r.attrs<Axis>().axis);
        const float *y = r.out().data(), *g = r.grad_out().data();
        float* dx = r.grad_in(0).data();
        for_each_line(sp, [&](auto at) {
            float total = 0.0f;
            for (std::size_t k = 0; k < sp.n; ++k)
                if (y[at(k)] != kNegInf) total += g[at(k)];
            for (std::size_t k = 0; k < sp.n; ++k)
                if (y[at(k)] != kNegInf) dx[at(k)] += g[at(k)] - std::exp(y[at(k)]) * total;
        });
    });
}

}  // namespace

Var softmax(const Var& x, int axis) { return softmax_op("softmax", x, axis, nullptr, false); }
Var softmax(const Var& x, int axis, const Var& valid) { return softmax_op("softmax", x, axis, &valid, false); }
Var log_softmax(const Var& x, int axis) { return softmax_op("log_softmax", x, axis, nullptr, true); }
Var log_softmax(const Var& x, int axis, const Var& valid) {
    return softmax_op("log_softmax", x, axis, &valid, true);
}

// loss = (1 / count) sum_n [ log sum_c exp(x[n,c]) - x[n, t_n] ] over the counted rows;
// d loss / d x[n,c] = (p[n,c] - [c == t_n]) / count, with p[n,c] = exp(x[n,c] - lse[n]).
//
// Only each row's log-sum-exp is kept for backward, which recomputes p: with a real vocabulary the
// logits are the largest tensor of a training step (B*T rows of V words), and keeping p as well would
// double it.
namespace {
struct CrossEntropyAttrs {
    std::int32_t ignore_index;
    float scale;      // 1 / (rows not ignored): the mean
    float smoothing;  // label_smoothing e
};
}  // namespace

Var cross_entropy(const Var& logits, std::span<const std::int32_t> targets, std::int32_t ignore_index,
                  float label_smoothing) {
    const Shape& s = logits.shape();
    if (s.rank() != 2 || s[0] != targets.size())
        throw ShapeError(fmt::format("cross_entropy: expected logits [N, C] and N targets, got logits {} and {} "
                                     "targets",
                                     s.str(), targets.size()));
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
        throw Error(fmt::format("cross_entropy: label_smoothing {} is outside [0, 1] (logits {})", label_smoothing, s.str()));
    const std::size_t rows = s[0], classes = s[1];
    for (std::size_t n = 0; n < rows; ++n)
        if (targets[n] != ignore_index && (targets[n] < 0 || static_cast<std::size_t>(targets[n]) >= classes))
            throw IndexError(fmt::format("cross_entropy: target {} at position {} is outside [0, {}) (logits {})",
                                         targets[n], n, classes, s.str()));
    Op op("cross_entropy", {logits}, Shape{});
    FloatBuffer& lse = op.saved();  // log sum_c exp(x[n,c]) per row, for backward
    lse.resize_discard(rows);
    const double e = label_smoothing;
    double total = 0.0;
    std::size_t count = 0;
    for (std::size_t n = 0; n < rows; ++n) {
        if (targets[n] == ignore_index) {
            lse[n] = 0.0f;
            continue;
        }
        const float* x = logits.value().data() + n * classes;
        const double row_lse = log_sum_exp(x, classes);
        lse[n] = static_cast<float>(row_lse);
        total += (1.0 - e) * (row_lse - x[targets[n]]);  // -log p[target]
        if (e > 0.0)  // mean_c -log p[c] = lse - mean_c x[c]
            total += e * (row_lse - static_cast<double>(sum_of(x, classes)) / static_cast<double>(classes));
        ++count;
    }
    const float scale = count ? 1.0f / static_cast<float>(count) : 0.0f;
    op.out().data()[0] = static_cast<float>(total) * scale;
    if (op.recording()) {
        op.saved_ids().assign(targets.begin(), targets.end());
        op.set_attrs(CrossEntropyAttrs{ignore_index, scale, label_smoothing});
    }
    // d loss / d x[n, c] = softmax(x[n])[c] - ((1 - e) [c == target] + e / C), times the mean's scale
    return op.finish([](Record& r) {
        const std::size_t rows = r.input(0).shape()[0], classes = r.input(0).shape()[1];
        const auto [ignore_index, scale, smoothing] = r.attrs<CrossEntropyAttrs>();
        const float g = r.grad_out().item() * scale;
        float* dx = r.grad_in(0).data();
        const float* x = r.input(0).data();
        const float uniform = g * smoothing / static_cast<float>(classes);
        for (std::size_t n = 0; n < rows; ++n) {
            const std::int32_t t = r.saved_ids[n];
            float* row = dx + n * classes;
            if (t == ignore_index) continue;  // an ignored row (padding) gets no gradient
            add_scaled_exp(x + n * classes, r.saved[n], g, row, classes, uniform);
            row[static_cast<std::size_t>(t)] -= g * (1.0f - smoothing);
        }
    });
}

}  // namespace tg
