// A tape printed: one line per record, or a Graphviz DOT graph (viz/tape_graph.hpp).
#include "viz/tape_graph.hpp"

#include <fmt/format.h>

#include <unordered_map>

namespace tg::viz {

namespace {

// A leaf's name in printouts: parameter name, or const.
std::string leaf_name(const Node& n) {
    if (n.tape == nullptr) return n.name.empty() ? "param" : n.name;
    return n.name.empty() ? "const" : n.name;
}

std::string input_name(const Node& n) {
    return n.record >= 0 ? fmt::format("#{}", n.record) : leaf_name(n);
}

}  // namespace

std::string tape_text(const Tape& tape) {
    std::string s = fmt::format("Tape: {} records, {} values\n", tape.num_records(), tape.num_values());
    for (std::size_t i = 0; i < tape.num_records(); ++i) {
        const Record& r = tape.record(i);
        s += fmt::format("#{:<3} {:<12}", i, r.op);
        if (!r.label.empty()) s += fmt::format(" '{}'", r.label);
        s += fmt::format(" {} <-", r.output->value.shape().str());
        for (std::size_t k = 0; k < r.inputs.size(); ++k)
            s += fmt::format("{} {} {}", k ? "," : "", input_name(*r.inputs[k]), r.inputs[k]->value.shape().str());
        s += '\n';
    }
    return s;
}


std::string tape_dot(const Tape& tape) {
    std::string s = "digraph tape {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
    std::unordered_map<const Node*, std::size_t> leaves;  // leaf -> its number, in order of first use
    for (std::size_t i = 0; i < tape.num_records(); ++i) {
        const Record& r = tape.record(i);
        std::string text = r.op;
        if (!r.label.empty()) text += "\\n" + r.label;
        s += fmt::format("  r{} [shape=box, style=filled, fillcolor=\"#dde8f5\", label=\"#{} {}\\n{}\"];\n", i, i,
                         text, r.output->value.shape().str());
        for (const Node* in : r.inputs) {
            if (in->record >= 0) {
                s += fmt::format("  r{} -> r{};\n", in->record, i);
                continue;
            }
            const auto [it, fresh] = leaves.emplace(in, leaves.size());
            if (fresh) {
                const bool param = in->tape == nullptr;
                s += fmt::format("  l{} [shape=ellipse, style=filled, fillcolor=\"{}\", label=\"{}\\n{}\"];\n", it->second,
                                 param ? "#f5e3c8" : "#eeeeee", param ? leaf_name(*in) : (in->name.empty() ? "const" : in->name),
                                 in->value.shape().str());
            }
            s += fmt::format("  l{} -> r{};\n", it->second, i);
        }
    }
    return s + "}\n";
}

}  // namespace tg::viz
