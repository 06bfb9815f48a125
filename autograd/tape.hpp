// The tape: a flat array of records, one per differentiable op of a forward pass, in creation order.
//
// Backward walks the records once from last to first. Creation order is already a valid topological
// order (an op's inputs exist before it runs), so no graph sort and no recursion is needed, however
// long the unrolled recurrence. clear() forgets the records but keeps their memory: a training loop
// that records the same shapes every step stops allocating after its first step.
#pragma once
#include <array>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "autograd/variable.hpp"

namespace tg {

struct Record;
using BackwardFn = void (*)(Record&);

// What one op leaves on the tape: enough to push the output's gradient into its inputs.
struct Record {
    const char* op = "";           // op name, a string literal
    std::string label;             // optional user label (see Var::label)
    std::vector<Node*> inputs;     // in argument order
    Node* output = nullptr;
    BackwardFn backward = nullptr;
    std::array<std::int64_t, 4> ints{};  // small attributes: axis, sizes, flags
    float scalar = 0.0f;                 // a float attribute (e.g. a fill value)
    FloatBuffer saved;                   // data backward needs (probabilities, masks); kept, not zeroed, between uses
    std::vector<std::int32_t> saved_ids; // indices backward needs (argmax, token ids)
};

class Tape {
public:
    Tape();
    ~Tape();
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // Forgets every value and record; Vars that point into the tape become stale. Memory is kept.
    void clear();

    // Reverse mode from `root`: seeds d root / d root = 1 (root must be a scalar), or with `seed`
    // (the shape of root) for a vector-Jacobian product, then runs each record's backward from the
    // last to the first. Gradients add up: a value used twice receives the sum, and Parameters
    // accumulate across calls until zero_grad().
    void backward(const Var& root);
    void backward(const Var& root, const Tensor& seed);

    std::size_t num_records() const { return n_records_; }
    std::size_t num_values() const { return n_nodes_; }
    const Record& record(std::size_t i) const;
    Record& record(std::size_t i);
    std::uint64_t generation() const { return generation_; }

    // The recorded graph in Graphviz DOT: one box per record (op, label, output shape), one ellipse
    // per leaf (parameter name or "const", shape). Render with: dot -Tsvg graph.dot -o graph.svg
    std::string to_dot() const;
    std::string str() const;  // one line per record: "#3 matmul [32, 384] <- v2 [32, 128], W [128, 384]"

    // For ops (see autograd/detail/op.hpp): a fresh value slot, and a fresh record.
    Node& new_value(const Shape& shape);
    Record& new_record();

private:
    void run_backward(Node& root, const Tensor* seed);  // seed nullptr: d root / d root = 1
    std::vector<std::unique_ptr<Node>> nodes_;  // slots reused across clear()
    std::size_t n_nodes_ = 0;
    std::vector<Record> records_;               // reused across clear(), buffers and all
    std::size_t n_records_ = 0;
    std::uint64_t generation_ = 1;
};

std::ostream& operator<<(std::ostream& os, const Tape& tape);

// The tape ops record on: each thread has its own default tape; a TapeScope makes another one
// active for its lifetime.
Tape& active_tape();
class TapeScope {
public:
    explicit TapeScope(Tape& tape);
    ~TapeScope();
    TapeScope(const TapeScope&) = delete;
    TapeScope& operator=(const TapeScope&) = delete;

private:
    Tape* previous_;
};

// Inside a NoGradGuard ops compute values but record nothing (evaluation, decoding, optimizer steps).
bool grad_enabled();
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// Anomaly mode: every op checks its output, and every backward step the gradients it produced, for
// NaN and Inf, and throws AnomalyError naming the first op that made one. Costs a pass over each value.
void set_anomaly_mode(bool on);
bool anomaly_mode();
class AnomalyModeGuard {
public:
    explicit AnomalyModeGuard(bool on = true);
    ~AnomalyModeGuard();
    AnomalyModeGuard(const AnomalyModeGuard&) = delete;
    AnomalyModeGuard& operator=(const AnomalyModeGuard&) = delete;

private:
    bool previous_;
};

}  // namespace tg
