// Private to the library's op implementations (autograd/ops/*.cpp): xtensor views of tensors and the
// helpers their backward functions share. Ops are written with the public builder (autograd/op.hpp);
// this adds conveniences only. The only header that pulls in xtensor; public headers never include it.
#pragma once
#include <array>
#include <span>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "autograd/op.hpp"
#include "autograd/ops.hpp"

namespace tg::detail {

// --- xtensor views over tensor memory (no copies, no allocation) ---
// flat(t): the tensor as one line, for elementwise work where every operand has the same shape.
// view(t): the tensor with its shape, for NumPy broadcasting between shapes. Setting up a shaped view
// (shape and strides vectors, broadcast checks) costs several times a small op's arithmetic, so
// assign() and add_to() below take the flat road whenever the shapes allow it.
inline auto flat(Tensor& t) { return xt::adapt(t.data(), t.numel(), xt::no_ownership(), std::array{t.numel()}); }
inline auto flat(const Tensor& t) { return xt::adapt(t.data(), t.numel(), xt::no_ownership(), std::array{t.numel()}); }
using XShape = xt::svector<std::size_t, 4>;
inline XShape xshape(const Shape& s) { return XShape(s.begin(), s.end()); }
inline auto view(Tensor& t) { return xt::adapt(t.data(), t.numel(), xt::no_ownership(), xshape(t.shape())); }
inline auto view(const Tensor& t) {
    return xt::adapt(t.data(), t.numel(), xt::no_ownership(), xshape(t.shape()));
}

// The attributes of an op along one axis (softmax, max, concat), for Record::set_attrs.
struct Axis {
    int axis;
};

// A tensor's shape around one axis: `outer` blocks of `n` positions of `inner` contiguous floats.
struct AxisSplit {
    std::size_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at(const Shape& s, int axis);

// Reading a tensor along another shape's axes (broadcast, or permuted): `Strides[i]` is how far one
// step along the other shape's axis i moves in the tensor's memory (0 along a broadcast axis).
using Strides = std::array<std::size_t, Shape::kMaxRank>;
Strides broadcast_strides(const Shape& in, const Shape& out);           // `in` broadcast to `out`
Strides permuted_strides(const Shape& in, std::span<const int> axes);  // out axis i is in axis axes[i]
// Walks `out` in memory order a row (its last axis) at a time: f(o, i, n, step) for out's elements
// o .. o + n - 1, which are the tensor's elements i, i + step, ..., i + (n - 1) step.
template <class F>
void for_each_row(const Shape& out, const Strides& in, F&& f) {
    const int rank = out.rank();
    if (rank == 0) return f(std::size_t{0}, std::size_t{0}, std::size_t{1}, std::size_t{0});
    const std::size_t n = out[rank - 1], step = in[static_cast<std::size_t>(rank - 1)];
    std::array<std::size_t, Shape::kMaxRank> idx{};
    std::size_t i = 0;
    for (std::size_t o = 0, total = out.numel(); o < total; o += n) {
        f(o, i, n, step);
        for (int a = rank - 2; a >= 0; --a) {  // odometer over the outer axes, the offset kept in step
            const std::size_t u = static_cast<std::size_t>(a);
            i += in[u];
            if (++idx[u] < out[a]) break;
            i -= in[u] * idx[u];
            idx[u] = 0;
        }
    }
}

// Adds into `into` (shape S) the tensor `g` whose shape S broadcasts to, summing over the broadcast
// axes: the one place where a broadcasting op's backward "un-broadcasts" its gradient.
void sum_to(const Tensor& g, Tensor& into);
// A tensor for backward temporaries, one per thread and reused: a warmed-up step allocates nothing.
Tensor& scratch(const Shape& s);

// out = f(in...), elementwise, the inputs broadcast to out's shape. f is written once over xtensor
// expressions, `[](auto a, auto b) { return a * b; }`, and applied to flat or shaped views.
template <class F, class... T>
void assign(Tensor& out, F&& f, const T&... in) {
    if (((in.shape() == out.shape()) && ...)) xt::noalias(flat(out)) = f(flat(in)...);
    else xt::noalias(view(out)) = f(view(in)...);
}

// grad += f(in...), where f's result has the op's output shape `out` and grad the shape of an input
// that was broadcast to it (summed back over the broadcast axes; no temporary when it was not):
//     add_to(r.grad_in(0), r.out().shape(), [](auto g, auto b) { return g * b; }, r.grad_out(), r.input(1));
template <class F, class... T>
void add_to(Tensor& grad, const Shape& out, F&& f, const T&... in) {
    if (!(grad.shape() == out)) {
        Tensor& full = scratch(out);  // the gradient before summing over the broadcast axes
        assign(full, f, in...);
        sum_to(full, grad);
    } else if (((in.shape() == out) && ...)) {
        xt::noalias(flat(grad)) += f(flat(in)...);
    } else {
        xt::noalias(view(grad)) += f(view(in)...);
    }
}

}  // namespace tg::detail
