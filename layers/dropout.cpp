#include "layers/dropout.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

Dropout::Dropout(float p) : p(p) {
    if (!(p >= 0.0f && p < 1.0f)) throw Error(fmt::format("Dropout: p = {} is outside [0, 1)", p));
}

Var Dropout::forward(const Var& x, Generator& gen) const {
    if (!is_training() || p == 0.0f) return x;
    return tg::dropout(x, p, gen);
}

}  // namespace tg
