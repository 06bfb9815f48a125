// Linear: y = x W^T + b, PyTorch's nn.Linear (weight [out, in], bias [out]).
#pragma once
#include "module.hpp"

namespace tg {

class Linear : public Module {
public:
    Linear(std::size_t in_features, std::size_t out_features, Generator& gen, bool bias = true);
    // x [..., in] -> [..., out]; any leading axes are flattened for one matrix product.
    Var forward(const Var& x) const;

    Parameter weight;  // [out, in]
    Parameter bias;    // [out]; empty (and unregistered) without bias
    bool has_bias() const { return has_bias_; }

private:
    bool has_bias_;
};

}  // namespace tg
