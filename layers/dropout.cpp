#include "layers/dropout.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

Dropout::Dropout(float p, std::uint64_t seed) : p(p), gen_(seed) {
    if (!(p >= 0.0f && p < 1.0f)) throw Error(fmt::format("Dropout: p = {} is outside [0, 1)", p));
}

Var Dropout::forward(const Var& x) {
    if (!is_training() || p == 0.0f) return x;
    mask_.resize(x.shape());
    const float keep = 1.0f - p;
    for (float& m : mask_.flat()) m = gen_.uniform() < keep ? 1.0f / keep : 0.0f;
    return x * constant(mask_);
}

}  // namespace tg
