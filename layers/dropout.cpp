#include "layers/dropout.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

Dropout::Dropout(float p, std::uint64_t seed) : p(p), gen_(seed) {
    if (!(p >= 0.0f && p < 1.0f)) throw Error(fmt::format("Dropout: p = {} is outside [0, 1)", p));
}

Var Dropout::forward(const Var& x) {
    if (!is_training()) return x;
    return tg::dropout(x, p, gen_);
}

}  // namespace tg
