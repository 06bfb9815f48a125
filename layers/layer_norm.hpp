// LayerNorm: PyTorch's nn.LayerNorm over the last axis (weight = gamma, ones; bias = beta, zeros).
#pragma once
#include "module.hpp"

namespace tg {

class LayerNorm : public Module {
public:
    explicit LayerNorm(std::size_t features, float eps = 1e-5f);
    Var forward(const Var& x) const;  // x [..., features]

    Parameter weight, bias;  // [features]
    float eps;
};

}  // namespace tg
