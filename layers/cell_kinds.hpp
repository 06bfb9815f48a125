// The registered recurrent units, by the name `translator train --cell NAME` takes, as the score
// functions are (attention_kinds(), layers/attention.hpp): a new cell is its class (a RecurrentCell,
// layers/recurrent_cell.hpp) and one row of cell_kinds() in cell_kinds.cpp. The translator builds
// its encoder and decoder from the row, checkpoints name it (config.txt's `cell`), and --help lists
// it; nothing else names a cell (docs/extending.md walks through adding one).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "recurrent.hpp"

namespace tg {

using CellPtr = std::unique_ptr<RecurrentCell>;

struct CellKind {
    const char* name;   // "gru": what --cell and config.txt say
    const char* about;  // for --help: "Cho et al. 2014, the paper's"
    std::size_t gates;  // G: weight_ih is [G*H, I], weight_hh [G*H, H] (the size of a model, before building it)
    CellPtr (*make)(std::size_t input_size, std::size_t hidden_size, Generator& gen);
};
const std::vector<CellKind>& cell_kinds();
const CellKind* find_cell_kind(const std::string& name);  // nullptr when there is none
std::string cell_kind_names();                             // "gru, lstm"

// One cell, or a layer of them over sequences (as GRU and LSTM are), by the row's name; tg::Error
// naming the registered cells for another name.
CellPtr make_cell(const std::string& name, std::size_t input_size, std::size_t hidden_size, Generator& gen);
std::unique_ptr<Recurrent> make_recurrent(const std::string& name, std::size_t input_size, std::size_t hidden_size,
                                          Generator& gen, Direction direction);

}  // namespace tg
