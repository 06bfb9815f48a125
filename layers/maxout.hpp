// Maxout (Goodfellow et al. 2013): a linear map to `pieces` candidates per output unit, keeping
// the largest. The paper's deep output layer (Appendix A.2.2) is a maxout with two pieces:
//
//     t~_i = U_o s_{i-1} + V_o E y_{i-1} + C_o c_i          (one Linear over the concatenation)
//     t_i  = [ max(t~_{i,2j-1}, t~_{i,2j}) ]_j               (pairs of adjacent units)
//
// Written from existing ops (linear, reshape, max), so it needs no backward code of its own. A layer
// in one file: the class with its functions defined in it (inline), needing public headers only.
#pragma once
#include <string>

#include "../autograd/ops.hpp"
#include "module.hpp"

namespace tg {

class Maxout : public Module {
public:
    Parameter weight;  // [out * pieces, in]: rows k*pieces .. k*pieces + pieces-1 compete for unit k
    Parameter bias;    // [out * pieces]
    std::size_t out_features, pieces;

    Maxout(std::size_t in_features, std::size_t out_features, Generator& gen, std::size_t pieces = 2)
        : weight(uniform_init({out_features * pieces, in_features}, in_features, gen)),
          bias(uniform_init({out_features * pieces}, in_features, gen)),
          out_features(out_features),
          pieces(pieces) {
        if (pieces < 1) throw Error("Maxout: at least one piece per unit");
        register_parameter("weight", weight);  // the names of its checkpoint files: <prefix>.weight.npy
        register_parameter("bias", bias);
    }

    // x [..., in] -> [..., out]
    Var forward(const Var& x) const {
        const Shape& s = x.shape();
        if (s.rank() < 1 || s[s.rank() - 1] != weight.shape()[1])
            throw ShapeError("Maxout: input " + s.str() + " does not end in " + std::to_string(weight.shape()[1]) +
                             " features (weight " + weight.shape().str() + ")");
        Var candidates = linear(x, weight, bias);  // t~ [..., out * pieces]
        Shape grouped = s.with(s.rank() - 1, out_features);
        grouped.push_back(pieces);                 // [..., out, pieces]
        return max(reshape(candidates, grouped), -1);  // t [..., out]
    }
};

}  // namespace tg
