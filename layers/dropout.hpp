// Dropout: in training mode zeroes each element with probability p and scales the rest by
// 1/(1-p) (PyTorch's inverted dropout); in evaluation mode it is the identity. The random stream is
// passed in, not owned, so the program decides how it is seeded: the translator seeds one from the
// training step, so that a resumed run draws what an uninterrupted one would.
#pragma once
#include "module.hpp"

namespace tg {

class Dropout : public Module {
public:
    explicit Dropout(float p = 0.0f);
    Var forward(const Var& x, Generator& gen) const;

    float p;
};

}  // namespace tg
