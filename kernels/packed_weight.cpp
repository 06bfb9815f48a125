// What both linear(x, PackedWeight) have in common (kernels/packed_linear.cpp, and
// kernels/reference.cpp in a build without kernels): the checks, and the op they start.
#include <fmt/format.h>

#include "autograd/op.hpp"
#include "kernels/kernels.hpp"
#include "kernels/packed.hpp"

namespace tg::kernels {

Op start_packed_linear(const Var& x, const PackedWeight& weight, const Var& bias) {
    const Shape& xs = x.shape();
    const std::size_t n_in = weight.in_features(), n_out = weight.out_features();
    const bool has_bias = bias.defined();
    if (xs.rank() < 1 || xs[xs.rank() - 1] != n_in || (has_bias && !(bias.shape() == Shape{n_out})))
        throw ShapeError(fmt::format("linear (packed): input {} and weight [{}, {}]{} do not fit (expected [..., in], "
                                     "[out, in], [out])",
                                     xs.str(), n_out, n_in, has_bias ? " and bias " + bias.shape().str() : ""));
    if (grad_enabled() && (x.requires_grad() || (has_bias && bias.requires_grad())))
        throw TapeError("linear (packed): a packed weight is for inference; use linear(x, weight, bias) or a NoGradGuard");
    const Shape out = xs.with(xs.rank() - 1, n_out);
    return has_bias ? Op("linear_packed", {x, bias}, out) : Op("linear_packed", {x}, out);
}

}  // namespace tg::kernels
