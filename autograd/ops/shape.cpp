// Ops that move data without arithmetic. Their backward moves the gradient back the same way.
// Tensors are contiguous and row-major, so an axis splits memory into `outer` blocks of `n`
// positions of `inner` floats (detail::split_at); slicing and concatenation copy whole runs.
#include <fmt/format.h>

#include <algorithm>

#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

Var reshape(const Var& x, const Shape& shape) {
    if (shape.numel() != x.numel())
        throw ShapeError(fmt::format("reshape: cannot view {} ({} elements) as {} ({} elements)", x.shape().str(),
                                     x.numel(), shape.str(), shape.numel()));
    Op op("reshape", {x}, shape);
    std::copy_n(x.value().data(), x.numel(), op.out().data());
    return op.finish([](Record& r) {  // the gradient as it is, in the input's shape
        float* g = r.grad_in(0).data();
        const float* d = r.grad_out().data();
        for (std::size_t k = 0, n = r.grad_out().numel(); k < n; ++k) g[k] += d[k];
    });
}

Var permute(const Var& x, std::span<const int> axes) {
    const Shape& s = x.shape();
    const int rank = s.rank();
    std::array<bool, Shape::kMaxRank> seen{};
    bool ok = static_cast<int>(axes.size()) == rank;
    for (int a : axes) {
        ok = ok && a >= 0 && a < rank && !seen[static_cast<std::size_t>(a)];
        if (ok) seen[static_cast<std::size_t>(a)] = true;
    }
    if (!ok)
        throw ShapeError(fmt::format("permute: [{}] is not a permutation of the axes of {}", fmt::join(axes, ", "),
                                     s.str()));
    Shape out_shape;
    for (int a : axes) out_shape.push_back(s[a]);
    Op op("permute", {x}, out_shape);
    const float* in = x.value().data();
    float* y = op.out().data();
    for_each_row(out_shape, permuted_strides(s, axes), [&](std::size_t o, std::size_t i, std::size_t n, std::size_t step) {
        for (std::size_t k = 0; k < n; ++k) y[o + k] = in[i + k * step];  // out axis a reads input axis axes[a]
    });
    if (op.recording()) op.saved_ids().assign(axes.begin(), axes.end());
    return op.finish([](Record& r) {  // each gradient element back where its value came from
        std::array<int, Shape::kMaxRank> axes{};
        std::copy(r.saved_ids.begin(), r.saved_ids.end(), axes.begin());
        const float* g = r.grad_out().data();
        float* dx = r.grad_in(0).data();
        for_each_row(r.out().shape(), permuted_strides(r.input(0).shape(), {axes.data(), r.saved_ids.size()}), [&](std::size_t o, std::size_t i, std::size_t n, std::size_t step) {
            for (std::size_t k = 0; k < n; ++k) dx[i + k * step] += g[o + k];
        });
    });
}

Var transpose(const Var& x, int axis0, int axis1) {
    const int rank = x.shape().rank();
    std::array<int, Shape::kMaxRank> axes{};
    for (int i = 0; i < rank; ++i) axes[static_cast<std::size_t>(i)] = i;
    std::swap(axes[static_cast<std::size_t>(Shape::normalize_axis(axis0, rank, "transpose"))],
              axes[static_cast<std::size_t>(Shape::normalize_axis(axis1, rank, "transpose"))]);
    return permute(x, std::span<const int>(axes.data(), static_cast<std::size_t>(rank)));
}

// Copies `len` positions of every outer block between two tensors split at the same axis.
namespace {
struct Range {  // [start, end) along axis
    int axis;
    std::size_t start, end;
};
}  // namespace

static void copy_runs(const float* src, std::size_t src_n, std::size_t src_at, float* dst, std::size_t dst_n,
                      std::size_t dst_at, std::size_t outer, std::size_t len, std::size_t inner, bool add) {
    for (std::size_t o = 0; o < outer; ++o) {
        const float* s = src + (o * src_n + src_at) * inner;
        float* d = dst + (o * dst_n + dst_at) * inner;
        if (add) for (std::size_t k = 0; k < len * inner; ++k) d[k] += s[k];
        else std::copy_n(s, len * inner, d);
    }
}

// slice and select share one kernel: select is a slice of length 1 whose axis is then dropped.
static Var slice_impl(const char* name, const Var& x, int axis_in, std::size_t start, std::size_t end, bool drop) {
    const Shape& s = x.shape();
    const int axis = s.axis(axis_in, name);
    if (start > end || end > s[axis])
        throw IndexError(fmt::format("{}: range [{}, {}) out of bounds for axis {} of shape {}", name, start, end,
                                     axis, s.str()));
    Op op(name, {x}, drop ? s.without(axis) : s.with(axis, end - start));
    const AxisSplit sp = split_at(s, axis);
    copy_runs(x.value().data(), sp.n, start, op.out().data(), end - start, 0, sp.outer, end - start, sp.inner, false);
    op.set_attrs(Range{axis, start, end});
    return op.finish([](Record& r) {
        const auto [axis, start, end] = r.attrs<Range>();
        const std::size_t len = end - start;
        const AxisSplit sp = split_at(r.input(0).shape(), axis);
        copy_runs(r.grad_out().data(), len, 0, r.grad_in(0).data(), sp.n, start, sp.outer, len, sp.inner, true);
    });
}

Var slice(const Var& x, int axis, std::size_t start, std::size_t end) {
    return slice_impl("slice", x, axis, start, end, false);
}

Var select(const Var& x, int axis, std::size_t index) {
    const int a = x.shape().axis(axis, "select");
    if (index >= x.shape()[a])
        throw IndexError(fmt::format("select: index {} out of range for axis {} of shape {}", index, a,
                                     x.shape().str()));
    return slice_impl("select", x, a, index, index + 1, true);
}

std::vector<Var> split(const Var& x, int axis, std::span<const std::size_t> sizes) {
    const int a = x.shape().axis(axis, "split");
    std::size_t total = 0;
    for (std::size_t n : sizes) total += n;
    if (total != x.shape()[a])
        throw ShapeError(fmt::format("split: sizes [{}] add up to {}, but axis {} of {} has length {}",
                                     fmt::join(sizes, ", "), total, a, x.shape().str(), x.shape()[a]));
    std::vector<Var> parts;
    parts.reserve(sizes.size());
    std::size_t at = 0;
    for (std::size_t n : sizes) {
        parts.push_back(slice(x, a, at, at + n));
        at += n;
    }
    return parts;
}

// concat and stack share one kernel: stack is concat along a new axis of length 1 per input.
static Var join(const char* name, std::span<const Var> xs, int axis_in, bool new_axis) {
    if (xs.empty()) throw ShapeError(fmt::format("{}: no inputs", name));
    const Shape& first = xs[0].shape();
    const int axis = Shape::normalize_axis(axis_in, first.rank() + (new_axis ? 1 : 0), name);
    std::size_t total = 0;
    for (const Var& x : xs) {
        const Shape& s = x.shape();
        bool fits = s.rank() == first.rank();
        for (int i = 0; fits && i < s.rank(); ++i) fits = s[i] == first[i] || (!new_axis && i == axis);
        if (!fits) {
            std::string all;
            for (const Var& v : xs) all += (all.empty() ? "" : ", ") + v.shape().str();
            throw ShapeError(fmt::format("{}: shapes {} do not match{} (axis {})", name, all,
                                         new_axis ? "" : " outside the joined axis", axis));
        }
        total += new_axis ? 1 : s[axis];
    }
    Op op(name, xs, new_axis ? first.inserted(axis, total) : first.with(axis, total));
    const AxisSplit out = split_at(op.out().shape(), axis);
    std::size_t at = 0;
    for (const Var& x : xs) {
        const std::size_t len = new_axis ? 1 : x.shape()[axis];
        copy_runs(x.value().data(), len, 0, op.out().data(), total, at, out.outer, len, out.inner, false);
        at += len;
    }
    op.set_attrs(Axis{axis});
    return op.finish([](Record& r) {
        const AxisSplit out = split_at(r.grad_out().shape(), r.attrs<Axis>().axis);
        std::size_t at = 0;
        for (std::size_t k = 0; k < r.inputs.size(); ++k) {
            const std::size_t len = r.inputs[k]->value.numel() / (out.outer * out.inner);
            if (r.needs_grad(k))  // each input's gradient is one run of the output's, added
                copy_runs(r.grad_out().data(), out.n, at, r.grad_in(k).data(), len, 0, out.outer, len, out.inner, true);
            at += len;
        }
    });
}

Var concat(std::span<const Var> xs, int axis) { return join("concat", xs, axis, false); }
Var stack(std::span<const Var> xs, int axis) { return join("stack", xs, axis, true); }

}  // namespace tg
