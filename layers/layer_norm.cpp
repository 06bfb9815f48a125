#include "layers/layer_norm.hpp"

#include "autograd/ops.hpp"

namespace tg {

LayerNorm::LayerNorm(std::size_t features, float eps)
    : weight(Tensor::ones({features})), bias(Tensor::zeros({features})), eps(eps) {
    register_parameter("weight", weight);
    register_parameter("bias", bias);
}

Var LayerNorm::forward(const Var& x) const { return layer_norm(x, weight, bias, eps); }

}  // namespace tg
