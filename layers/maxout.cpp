#include "layers/maxout.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

Maxout::Maxout(std::size_t in_features, std::size_t out_features, Generator& gen, std::size_t pieces)
    : weight(uniform_init({out_features * pieces, in_features}, in_features, gen)),
      bias(uniform_init({out_features * pieces}, in_features, gen)),
      out_features(out_features),
      pieces(pieces) {
    if (pieces < 1) throw Error("Maxout: at least one piece per unit");
    register_parameter("weight", weight);
    register_parameter("bias", bias);
}

Var Maxout::forward(const Var& x) const {
    const Shape& s = x.shape();
    if (s.rank() < 1 || s[s.rank() - 1] != weight.shape()[1])
        throw ShapeError(fmt::format("Maxout: input {} does not end in {} features (weight {})", s.str(), weight.shape()[1],
                                     weight.shape().str()));
    Var candidates = linear(x, weight, bias);                             // t~ [..., out * pieces]
    Shape grouped = s.with(s.rank() - 1, out_features);
    grouped.push_back(pieces);                                            // [..., out, pieces]
    return max(reshape(candidates, grouped), -1);                         // t [..., out]
}

}  // namespace tg
