// Private to the library's op implementations (autograd/ops/*.cpp): xtensor views of tensors and the
// helpers their backward functions share. Ops are written with the public builder (autograd/op.hpp);
// this adds conveniences only. The only header that pulls in xtensor; public headers never include it.
#pragma once
#include <array>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "autograd/op.hpp"
#include "autograd/ops.hpp"

namespace tg::detail {

// --- xtensor views over tensor memory (no copies, no allocation for rank <= 4) ---
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

// Adds into `into` (shape S) the tensor `g` whose shape S broadcasts to, summing over the broadcast
// axes: the one place where a broadcasting op's backward "un-broadcasts" its gradient.
void sum_to(const Tensor& g, Tensor& into);
// A tensor for backward temporaries, one per thread and reused: a warmed-up step allocates nothing.
Tensor& scratch(const Shape& s);

// grad += expr, where expr has the op's output shape `out` and grad the shape of an input that was
// broadcast to it (or the same shape: then one pass, no temporary). Used with grad_in:
//     add_to(r.grad_in(0), view(r.grad_out()) * view(r.input(1)), r.out().shape());
template <class E>
void add_to(Tensor& grad, E&& expr, const Shape& out) {
    if (grad.shape() == out) {
        xt::noalias(view(grad)) += std::forward<E>(expr);
        return;
    }
    Tensor& full = scratch(out);  // the gradient before summing over the broadcast axes
    xt::noalias(view(full)) = std::forward<E>(expr);
    sum_to(full, grad);
}

}  // namespace tg::detail
