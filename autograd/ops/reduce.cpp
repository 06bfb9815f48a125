// Reductions over one axis or over everything. Along an axis the tensor is `outer` x `n` x `inner`
// (detail::split_at); the result drops the middle index, or keeps it as 1 with keepdims.
#include <fmt/format.h>

#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

namespace {

struct SumAttrs {
    int axis;  // -1: over everything
    float scale;
};

Shape reduced_shape(const Shape& s, int axis, bool keepdims) { return keepdims ? s.with(axis, 1) : s.without(axis); }

// y[o,i] = scale * sum_k x[o,k,i];  backward: dx[o,k,i] += scale * dy[o,i].
Var sum_axis(const char* name, const Var& x, int axis_in, bool keepdims, bool average) {
    const int axis = x.shape().axis(axis_in, name);
    const AxisSplit sp = split_at(x.shape(), axis);
    const float scale = average ? 1.0f / static_cast<float>(sp.n) : 1.0f;
    Op op(name, {x}, reduced_shape(x.shape(), axis, keepdims));
    const float* src = x.value().data();
    float* dst = op.out().data();
    std::fill_n(dst, sp.outer * sp.inner, 0.0f);
    for (std::size_t o = 0; o < sp.outer; ++o)
        for (std::size_t k = 0; k < sp.n; ++k)
            for (std::size_t i = 0; i < sp.inner; ++i) dst[o * sp.inner + i] += src[(o * sp.n + k) * sp.inner + i];
    for (std::size_t j = 0; j < sp.outer * sp.inner; ++j) dst[j] *= scale;
    op.set_attrs(SumAttrs{axis, scale});
    return op.finish([](Record& r) {
        const auto [axis, scale] = r.attrs<SumAttrs>();
        const AxisSplit sp = split_at(r.input(0).shape(), axis);
        const float* go = r.grad_out().data();
        float* g = r.grad_in(0).data();
        for (std::size_t o = 0; o < sp.outer; ++o)
            for (std::size_t k = 0; k < sp.n; ++k)
                for (std::size_t i = 0; i < sp.inner; ++i) g[(o * sp.n + k) * sp.inner + i] += scale * go[o * sp.inner + i];
    });
}

// The sum of every element, as a scalar; backward spreads scale * dy over all of x.
Var sum_all(const char* name, const Var& x, bool average) {
    const float scale = average ? 1.0f / static_cast<float>(x.numel()) : 1.0f;
    Op op(name, {x}, Shape{});
    double acc = 0.0;  // a long sum in double, so the total does not depend on the order of summation as much
    for (float v : x.value().flat()) acc += v;
    op.out().data()[0] = static_cast<float>(acc) * scale;
    op.set_attrs(SumAttrs{-1, scale});
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += r.grad_out().item() * r.attrs<SumAttrs>().scale; });
}

}  // namespace

Var sum(const Var& x) { return sum_all("sum", x, false); }
Var mean(const Var& x) { return sum_all("mean", x, true); }
Var sum(const Var& x, int axis, bool keepdims) { return sum_axis("sum", x, axis, keepdims, false); }
Var mean(const Var& x, int axis, bool keepdims) { return sum_axis("mean", x, axis, keepdims, true); }

// y[o,i] = max_k x[o,k,i]; the gradient goes to the first position that attains it.
Var max(const Var& x, int axis_in, bool keepdims) {
    const int axis = x.shape().axis(axis_in, "max");
    const AxisSplit sp = split_at(x.shape(), axis);
    if (sp.n == 0) throw ShapeError(fmt::format("max: axis {} of {} is empty", axis, x.shape().str()));
    Op op("max", {x}, reduced_shape(x.shape(), axis, keepdims));
    IndexBuffer& arg = op.saved_ids();
    arg.resize_discard(sp.outer * sp.inner);
    const float* src = x.value().data();
    float* dst = op.out().data();
    for (std::size_t o = 0; o < sp.outer; ++o)
        for (std::size_t i = 0; i < sp.inner; ++i) {
            std::size_t best = 0;
            for (std::size_t k = 1; k < sp.n; ++k)
                if (src[(o * sp.n + k) * sp.inner + i] > src[(o * sp.n + best) * sp.inner + i]) best = k;
            dst[o * sp.inner + i] = src[(o * sp.n + best) * sp.inner + i];
            arg[o * sp.inner + i] = static_cast<std::int32_t>(best);
        }
    op.set_attrs(Axis{axis});
    return op.finish([](Record& r) {
        const AxisSplit sp = split_at(r.input(0).shape(), r.attrs<Axis>().axis);
        const float* go = r.grad_out().data();
        float* g = r.grad_in(0).data();
        for (std::size_t o = 0; o < sp.outer; ++o)
            for (std::size_t i = 0; i < sp.inner; ++i) {
                auto k = static_cast<std::size_t>(r.saved_ids[o * sp.inner + i]);
                g[(o * sp.n + k) * sp.inner + i] += go[o * sp.inner + i];
            }
    });
}

}  // namespace tg
