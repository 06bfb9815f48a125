#include "layers/linear.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

Linear::Linear(std::size_t in_features, std::size_t out_features, Generator& gen, bool bias)
    : weight(uniform_init({out_features, in_features}, in_features, gen)), has_bias_(bias) {
    register_parameter("weight", weight);
    if (bias) {
        this->bias = Parameter(uniform_init({out_features}, in_features, gen));
        register_parameter("bias", this->bias);
    }
}

Var Linear::forward(const Var& x) const {
    const Shape& s = x.shape();
    const std::size_t in = weight.shape()[1];
    if (s.rank() < 1 || s[s.rank() - 1] != in)
        throw ShapeError(fmt::format("Linear: input {} does not end in {} features (weight {})", s.str(), in,
                                     weight.shape().str()));
    Var flat = s.rank() == 2 ? x : reshape(x, {s.numel() / in, in});
    Var y = matmul(flat, transpose(weight));
    if (has_bias_) y = y + bias;
    if (s.rank() == 2) return y;
    return reshape(y, s.with(s.rank() - 1, weight.shape()[0]));
}

}  // namespace tg
