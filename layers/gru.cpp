#include "layers/gru.hpp"

namespace tg {

GRU::GRU(std::size_t input_size, std::size_t hidden_size, Generator& gen, Direction direction, bool reset_after)
    : Recurrent(hidden_size) {
    build(direction, fwd, bwd, input_size, hidden_size, gen, reset_after);
}

}  // namespace tg
