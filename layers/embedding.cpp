#include "layers/embedding.hpp"

#include <algorithm>

#include "autograd/ops.hpp"

namespace tg {

Embedding::Embedding(std::size_t num, std::size_t dim, Generator& gen, std::int32_t padding_idx)
    : weight(Tensor::randn({num, dim}, gen)), padding_idx(padding_idx) {
    if (padding_idx >= 0 && static_cast<std::size_t>(padding_idx) < num)
        std::fill_n(weight.value().data() + static_cast<std::size_t>(padding_idx) * dim, dim, 0.0f);
    register_parameter("weight", weight);
}

Var Embedding::forward(std::span<const std::int32_t> ids, const Shape& ids_shape) const {
    return embedding(weight, ids, ids_shape, padding_idx);
}

}  // namespace tg
