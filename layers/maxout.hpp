// Maxout (Goodfellow et al. 2013): a linear map to `pieces` candidates per output unit, keeping
// the largest. The paper's deep output layer (Appendix A.2.2) is a maxout with two pieces:
//
//     t~_i = U_o s_{i-1} + V_o E y_{i-1} + C_o c_i          (one Linear over the concatenation)
//     t_i  = [ max(t~_{i,2j-1}, t~_{i,2j}) ]_j               (pairs of adjacent units)
//
// Written from existing ops (linear, reshape, max), so it needs no backward code of its own.
#pragma once
#include "layers/module.hpp"

namespace tg {

class Maxout : public Module {
public:
    Maxout(std::size_t in_features, std::size_t out_features, Generator& gen, std::size_t pieces = 2);
    // x [..., in] -> [..., out]
    Var forward(const Var& x) const;

    Parameter weight;  // [out * pieces, in]: rows k*pieces .. k*pieces + pieces-1 compete for unit k
    Parameter bias;    // [out * pieces]
    std::size_t out_features, pieces;
};

}  // namespace tg
