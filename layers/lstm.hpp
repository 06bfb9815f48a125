// LSTM: an LSTMCell run over a padded batch of sequences (layers/recurrent.hpp), forward in time,
// backward, or both. PyTorch's nn.LSTM; its outputs and final states are the h half of the cells' state.
#pragma once
#include "lstm_cell.hpp"
#include "recurrent.hpp"

namespace tg {

class LSTM : public Recurrent {
public:
    LSTM(std::size_t input_size, std::size_t hidden_size, Generator& gen, Direction direction = Direction::forward);
    const char* kind() const override { return "LSTM"; }

    std::unique_ptr<LSTMCell> fwd;  // registered as "fwd" (null when direction == backward)
    std::unique_ptr<LSTMCell> bwd;  // registered as "bwd" (null when direction == forward)
};

}  // namespace tg
