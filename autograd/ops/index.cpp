// Picking elements: embedding rows by id, slices by index along an axis, and elementwise choice by a
// condition.
#include <fmt/format.h>

#include <cstring>

#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

namespace {
struct Padding {
    std::int32_t index;  // the row that gets no gradient
};
}  // namespace

// out[p, :] = weight[ids[p], :];  backward scatter-adds: dweight[ids[p], :] += dout[p, :]
// (except into the padding row, as PyTorch's padding_idx).
Var embedding(const Var& weight, std::span<const std::int32_t> ids, const Shape& ids_shape,
              std::int32_t padding_idx) {
    const Shape& w = weight.shape();
    if (w.rank() != 2) throw ShapeError(fmt::format("embedding: weight must be [V, E], got {}", w.str()));
    if (ids_shape.numel() != ids.size())
        throw ShapeError(fmt::format("embedding: {} ids for an index shape {}", ids.size(), ids_shape.str()));
    for (std::size_t p = 0; p < ids.size(); ++p)
        if (ids[p] < 0 || static_cast<std::size_t>(ids[p]) >= w[0])
            throw IndexError(fmt::format("embedding: id {} at position {} is outside [0, {}) (weight {})", ids[p], p,
                                         w[0], w.str()));
    Shape out_shape = ids_shape;
    out_shape.push_back(w[1]);
    Op op("embedding", {weight}, out_shape);
    const std::size_t width = w[1];
    for (std::size_t p = 0; p < ids.size(); ++p)
        std::memcpy(op.out().data() + p * width, weight.value().data() + static_cast<std::size_t>(ids[p]) * width,
                    width * sizeof(float));
    if (op.recording()) {
        op.saved_ids().assign(ids.begin(), ids.end());
        op.set_attrs(Padding{padding_idx});
    }
    return op.finish([](Record& r) {
        const std::size_t width = r.input(0).shape()[1];
        float* g = r.grad_in(0).data();
        const float* go = r.grad_out().data();
        for (std::size_t p = 0; p < r.saved_ids.size(); ++p) {
            if (r.saved_ids[p] == r.attrs<Padding>().index) continue;
            float* row = g + static_cast<std::size_t>(r.saved_ids[p]) * width;
            for (std::size_t e = 0; e < width; ++e) row[e] += go[p * width + e];
        }
    });
}

// out[..., p, ...] = x[..., ids[p], ...] along `axis` (torch.index_select); backward scatter-adds,
// so an index taken twice gets both gradients. One copy of the picked slices, whatever x's rank.
Var index_select(const Var& x, int axis, std::span<const std::int32_t> ids) {
    const Shape& s = x.shape();
    const int ax = s.axis(axis, "index_select");  // throws for an axis outside the rank
    const AxisSplit sp = split_at(s, ax);
    for (std::size_t p = 0; p < ids.size(); ++p)
        if (ids[p] < 0 || static_cast<std::size_t>(ids[p]) >= sp.n)
            throw IndexError(fmt::format("index_select: index {} at position {} is outside [0, {}) (input {}, axis {})",
                                         ids[p], p, sp.n, s.str(), axis));
    Op op("index_select", {x}, s.with(ax, ids.size()));
    const float* in = x.value().data();
    float* out = op.out().data();
    for (std::size_t o = 0; o < sp.outer; ++o)
        for (std::size_t p = 0; p < ids.size(); ++p)
            std::memcpy(out + (o * ids.size() + p) * sp.inner, in + (o * sp.n + static_cast<std::size_t>(ids[p])) * sp.inner,
                        sp.inner * sizeof(float));
    if (op.recording()) {
        op.saved_ids().assign(ids.begin(), ids.end());
        op.set_attrs(ax);
    }
    return op.finish([](Record& r) {
        const AxisSplit sp = split_at(r.input(0).shape(), r.attrs<int>());
        const std::size_t picked = r.saved_ids.size();
        float* g = r.grad_in(0).data();
        const float* go = r.grad_out().data();
        for (std::size_t o = 0; o < sp.outer; ++o)
            for (std::size_t p = 0; p < picked; ++p) {
                float* to = g + (o * sp.n + static_cast<std::size_t>(r.saved_ids[p])) * sp.inner;
                const float* from = go + (o * picked + p) * sp.inner;
                for (std::size_t i = 0; i < sp.inner; ++i) to[i] += from[i];
            }
    });
}

// out = cond != 0 ? a : b; the gradient goes to whichever side was chosen.
Var where(const Var& cond, const Var& a, const Var& b) {
    Shape s = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
    Op op("where", {cond, a, b}, s);
    assign(op.out(), [](auto c, auto x, auto y) { return xt::where(xt::not_equal(c, 0.0f), x, y); }, cond.value(), a.value(), b.value());
    return op.finish([](Record& r) {
        const Shape& out = r.out().shape();
        if (r.needs_grad(1)) add_to(r.grad_in(1), out, [](auto c, auto g) { return xt::where(xt::not_equal(c, 0.0f), g, 0.0f); }, r.input(0), r.grad_out());
        if (r.needs_grad(2)) add_to(r.grad_in(2), out, [](auto c, auto g) { return xt::where(xt::not_equal(c, 0.0f), 0.0f, g); }, r.input(0), r.grad_out());
    });
}

// out = mask != 0 ? value : x. The mask broadcasts to x; x keeps its shape.
Var masked_fill(const Var& x, const Var& mask, float value) {
    if (!(broadcast_shapes(x.shape(), mask.shape(), "masked_fill") == x.shape()))
        throw ShapeError(fmt::format("masked_fill: mask of shape {} does not broadcast to the input's shape {}",
                                     mask.shape().str(), x.shape().str()));
    Op op("masked_fill", {x, mask}, x.shape());
    assign(op.out(), [value](auto m, auto v) { return xt::where(xt::not_equal(m, 0.0f), value, v); }, mask.value(), x.value());
    return op.finish([](Record& r) {
        add_to(r.grad_in(0), r.out().shape(), [](auto m, auto g) { return xt::where(xt::not_equal(m, 0.0f), 0.0f, g); }, r.input(1), r.grad_out());
    });
}

}  // namespace tg
