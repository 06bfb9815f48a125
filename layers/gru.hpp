// GRU: a GRUCell run over a padded batch of sequences (layers/recurrent.hpp), forward in time,
// backward, or both (bidirectional, as the paper's encoder, Section 3.2). PyTorch's nn.GRU.
#pragma once
#include "gru_cell.hpp"
#include "recurrent.hpp"

namespace tg {

class GRU : public Recurrent {
public:
    GRU(std::size_t input_size, std::size_t hidden_size, Generator& gen,
        Direction direction = Direction::forward, bool reset_after = true);
    const char* kind() const override { return "GRU"; }

    std::unique_ptr<GRUCell> fwd;  // registered as "fwd" (null when direction == backward)
    std::unique_ptr<GRUCell> bwd;  // registered as "bwd" (null when direction == forward)
};

}  // namespace tg
