#include "layers/lstm.hpp"

namespace tg {

LSTM::LSTM(std::size_t input_size, std::size_t hidden_size, Generator& gen, Direction direction) : Recurrent(hidden_size) {
    build(direction, fwd, bwd, input_size, hidden_size, gen);
}

}  // namespace tg
