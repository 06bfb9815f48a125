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
// A row-major matrix over raw memory, for BLAS.
inline auto matrix(float* p, std::size_t rows, std::size_t cols) {
    return xt::adapt(p, rows * cols, xt::no_ownership(), std::array<std::size_t, 2>{rows, cols});
}
inline auto matrix(const float* p, std::size_t rows, std::size_t cols) {
    return xt::adapt(p, rows * cols, xt::no_ownership(), std::array<std::size_t, 2>{rows, cols});
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

// --- two shortcuts of the built-in ops, on top of Record::grad_in() ---
// The gradient buffer of input i for a backward that writes it whole: `beta` is 0 the first time
// (the buffer holds garbage and must be overwritten, saving grad_in()'s zero fill) and 1 after (add
// to it). For BLAS calls (C = alpha A B + beta C).
Tensor& grad_to_write(Record& r, int i, float& beta);
// What a backward that copies a gradient does with that buffer: dst = src (beta 0: dst holds
// garbage, not to be read) or dst += src.
void write_or_add(float* dst, const float* src, std::size_t n, float beta);

// Adds into `into` (shape S) the tensor `g` whose shape S broadcasts to, summing over the broadcast
// axes: the one place where every broadcasting op's backward "un-broadcasts" its gradient.
void sum_to(const Tensor& g, Tensor& into);
// A scratch tensor for backward temporaries (one per thread, reused).
Tensor& scratch(const Shape& s);

// grad(input i) += expr, where expr has the output's shape; reduces over broadcast axes if input i
// was broadcast. Same shape: one fused pass, no temporary.
template <class E>
void accumulate(Record& r, int i, E&& expr) {
    Node& input = *r.inputs[static_cast<std::size_t>(i)];
    if (!input.has_grad && input.value.shape() == r.out().shape()) {  // the first gradient: assign, no zero fill
        input.grad.resize(input.value.shape());
        input.has_grad = true;
        xt::noalias(view(input.grad)) = std::forward<E>(expr);
        return;
    }
    Tensor& g = r.grad_in(static_cast<std::size_t>(i));
    if (g.shape() == r.out().shape()) {
        xt::noalias(view(g)) += std::forward<E>(expr);
    } else {
        Tensor& tmp = scratch(r.out().shape());
        xt::noalias(view(tmp)) = std::forward<E>(expr);
        sum_to(tmp, g);
    }
}

}  // namespace tg::detail
