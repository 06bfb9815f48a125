// Embedding: a lookup table of vectors, PyTorch's nn.Embedding (weight [num, dim], N(0, 1) init).
#pragma once
#include <cstdint>
#include <span>

#include "module.hpp"

namespace tg {

class Embedding : public Module {
public:
    // The row `padding_idx` (if >= 0) starts at zero and never receives a gradient.
    Embedding(std::size_t num, std::size_t dim, Generator& gen, std::int32_t padding_idx = -1);
    // ids of shape `ids_shape` -> vectors of shape ids_shape + [dim].
    Var forward(std::span<const std::int32_t> ids, const Shape& ids_shape) const;

    Parameter weight;  // [num, dim]
    std::int32_t padding_idx;
};

}  // namespace tg
