// GRU: a GRUCell run over a padded batch of sequences, forward in time, backward, or both
// (bidirectional, as the paper's encoder, Section 3.2). Each sentence runs over its own length
// only: at a padded position the state is carried through unchanged and the output is zero, so
// padding never enters a recurrence (in either direction) and cannot change any real result.
#pragma once
#include <memory>
#include <span>

#include "gru_cell.hpp"

namespace tg {

enum class Direction { forward, backward, bidirectional };

struct GRUOutput {
    Var outputs;  // [B, T, D*H]: each position's state, [forward ; backward] when bidirectional; 0 at padding
    Var final;    // [D, B, H]: the forward state after each sentence's last token, the backward
                  // state after its first (PyTorch's h_n layout)
};

class GRU : public Module {
public:
    GRU(std::size_t input_size, std::size_t hidden_size, Generator& gen,
        Direction direction = Direction::forward, bool reset_after = true);

    // x [B, T, I] padded to T; lengths[b] in [0, T] is sentence b's true length.
    GRUOutput forward(const Var& x, std::span<const int> lengths) const;

    std::unique_ptr<GRUCell> fwd;  // registered as "fwd" (null when direction == backward)
    std::unique_ptr<GRUCell> bwd;  // registered as "bwd" (null when direction == forward)
    std::size_t hidden_size;
};

}  // namespace tg
