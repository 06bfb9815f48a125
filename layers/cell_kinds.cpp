#include "layers/cell_kinds.hpp"

#include <fmt/format.h>

#include "autograd/error.hpp"
#include "layers/gru_cell.hpp"
#include "layers/lstm_cell.hpp"
#include "layers/mgu_cell.hpp"

namespace tg {

namespace {

template <class Cell>
CellPtr make(std::size_t input_size, std::size_t hidden_size, Generator& gen) {
    return std::make_unique<Cell>(input_size, hidden_size, gen);
}

// A layer of any registered cell over sequences: what GRU and LSTM are for their own cells.
class CellLayer final : public Recurrent {
public:
    CellLayer(const CellKind& kind, std::size_t input_size, std::size_t hidden_size, Generator& gen, Direction direction)
        : Recurrent(hidden_size), name_(kind.name) {
        build_with(direction, fwd_, bwd_, [&] { return kind.make(input_size, hidden_size, gen); });
    }
    const char* kind() const override { return name_; }

private:
    const char* name_;
    CellPtr fwd_, bwd_;
};

}  // namespace

// The registered cells: a new one is its row here (and its header above, its .cpp in meson.build).
const std::vector<CellKind>& cell_kinds() {
    static const std::vector<CellKind> kinds = {
        {"gru", "Cho et al. 2014, the paper's", 3, make<GRUCell>},
        {"lstm", "Hochreiter & Schmidhuber 1997, with a forget gate", 4, make<LSTMCell>},
// <doc:cell-kinds>
        {"mgu", "the minimal gated unit, Zhou et al. 2016: one gate", 2, make<MGUCell>},
// </doc:cell-kinds>
    };
    return kinds;
}

const CellKind* find_cell_kind(const std::string& name) {
    for (const CellKind& k : cell_kinds())
        if (name == k.name) return &k;
    return nullptr;
}

std::string cell_kind_names() {
    std::string names;
    for (const CellKind& k : cell_kinds()) names += (names.empty() ? "" : ", ") + std::string(k.name);
    return names;
}

CellPtr make_cell(const std::string& name, std::size_t input_size, std::size_t hidden_size, Generator& gen) {
    if (const CellKind* k = find_cell_kind(name)) return k->make(input_size, hidden_size, gen);
    throw Error(fmt::format("cell '{}': unknown; the cells are {}", name, cell_kind_names()));
}

std::unique_ptr<Recurrent> make_recurrent(const std::string& name, std::size_t input_size, std::size_t hidden_size,
                                          Generator& gen, Direction direction) {
    const CellKind* k = find_cell_kind(name);
    if (!k) throw Error(fmt::format("cell '{}': unknown; the cells are {}", name, cell_kind_names()));
    return std::make_unique<CellLayer>(*k, input_size, hidden_size, gen, direction);
}

}  // namespace tg
