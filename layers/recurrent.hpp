// Recurrent: a RecurrentCell (layers/recurrent_cell.hpp) run over a padded batch of sequences,
// forward in time, backward, or both (bidirectional, as the paper's encoder, Section 3.2): the code
// the GRU (layers/gru.hpp) and the LSTM (layers/lstm.hpp) share. Each sentence runs over its own
// length only: at a padded position the state is carried through unchanged and the output is zero,
// so padding never enters a recurrence (in either direction) and cannot change any real result.
#pragma once
#include <memory>
#include <span>
#include <utility>

#include "recurrent_cell.hpp"

namespace tg {

enum class Direction { forward, backward, bidirectional };

struct RecurrentOutput {
    Var outputs;  // [B, T, D*H]: each position's output h, [forward ; backward] when bidirectional; 0 at padding
    Var final;    // [D, B, H]: the forward h after each sentence's last token, the backward h after its
                  // first (PyTorch's h_n layout)
};
using GRUOutput = RecurrentOutput;

class Recurrent : public Module {
public:
    // x [B, T, I] padded to T; lengths[b] in [0, T] is sentence b's true length.
    RecurrentOutput forward(const Var& x, std::span<const int> lengths) const;
    virtual const char* kind() const = 0;  // "GRU", "LSTM": for error messages
    std::size_t hidden_size;

protected:
    explicit Recurrent(std::size_t hidden_size) : hidden_size(hidden_size) {}
    // Builds and registers the cells of `direction` as "fwd" and "bwd": Cell(args...) each.
    template <class Cell, class... Args>
    void build(Direction direction, std::unique_ptr<Cell>& fwd, std::unique_ptr<Cell>& bwd, Args&&... args) {
        if (direction != Direction::backward) {
            fwd = std::make_unique<Cell>(args...);
            register_module("fwd", *fwd);
            forward_cell_ = fwd.get();
        }
        if (direction != Direction::forward) {
            bwd = std::make_unique<Cell>(args...);
            register_module("bwd", *bwd);
            backward_cell_ = bwd.get();
        }
    }

    // The same, each cell made by make() (a registered cell's: layers/cell_kinds.hpp).
    template <class Make>
    void build_with(Direction direction, std::unique_ptr<RecurrentCell>& fwd, std::unique_ptr<RecurrentCell>& bwd, Make make) {
        if (direction != Direction::backward) {
            fwd = make();
            register_module("fwd", *fwd);
            forward_cell_ = fwd.get();
        }
        if (direction != Direction::forward) {
            bwd = make();
            register_module("bwd", *bwd);
            backward_cell_ = bwd.get();
        }
    }

private:
    const RecurrentCell* forward_cell_ = nullptr;
    const RecurrentCell* backward_cell_ = nullptr;
};

}  // namespace tg
