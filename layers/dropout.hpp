// Dropout: in training mode zeroes each element with probability p and scales the rest by
// 1/(1-p) (PyTorch's inverted dropout); in evaluation mode it is the identity.
#pragma once
#include "module.hpp"

namespace tg {

class Dropout : public Module {
public:
    explicit Dropout(float p, std::uint64_t seed = 0);
    Var forward(const Var& x);  // not const: draws from the module's generator

    float p;

private:
    Generator gen_;
};

}  // namespace tg
