// What a tape recorded, to read or to draw. `Var::label("name")` names a record in both.
#pragma once
#include <string>

#include "../autograd/tape.hpp"

namespace tg::viz {

// One line per record: "#1   tanh         'hidden' [2, 4] <- #0 [2, 4]" (op, label, output shape, then
// each input: a record's number, or a leaf's parameter name or "const", with its shape).
std::string tape_text(const Tape& tape);
// Graphviz DOT: one box per record (op, label, output shape), one ellipse per leaf (parameter name
// or "const", shape). Render with: dot -Tsvg graph.dot -o graph.svg
std::string tape_dot(const Tape& tape);

}  // namespace tg::viz
