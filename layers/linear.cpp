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
    if (s.rank() < 1 || s[s.rank() - 1] != weight.shape()[1])
        throw ShapeError(fmt::format("Linear: input {} does not end in {} features (weight {})", s.str(),
                                     weight.shape()[1], weight.shape().str()));
    return linear(x, weight, has_bias_ ? bias.var() : Var());  // x W^T + b
}

}  // namespace tg
