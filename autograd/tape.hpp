// The tape: a flat array of records, one per differentiable op of a forward pass, in creation order.
//
// Backward walks the records once from last to first. Creation order is already a valid topological
// order (an op's inputs exist before it runs), so no graph sort and no recursion is needed, however
// long the unrolled recurrence.
//
// Memory: every value, gradient and saved buffer of the tape lives in the tape's Arena, and clear()
// releases it all in O(1). So a step needs the memory of that step only, whatever shapes the steps
// before it had, and once the largest step has been seen, a step allocates nothing. mark() and
// rewind() release just what came after a point (InferenceMode does this for a scope).
#pragma once
#include <array>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "autograd/arena.hpp"
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
    FloatBuffer saved;                   // data backward needs (probabilities, masks), in the tape's arena
    IndexBuffer saved_ids;               // indices backward needs (argmax, token ids), in the tape's arena
};

class Tape {
public:
    Tape();
    ~Tape();
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // Forgets every value and record; Vars that point into the tape become stale. The arena is reset
    // in O(1) and keeps its blocks for the next step.
    void clear();

    // A point on the tape to come back to. rewind(m) forgets every value and record made after mark()
    // returned m (reading one of them then throws) and gives their memory back; what came before is
    // untouched. Marks nest, last in first out; a rewind to a mark from before a clear() clears.
    struct Mark {
        std::uint64_t first_live = 0;  // tells whether the tape was cleared since
        std::size_t values = 0, records = 0;
        Arena::Mark memory;
    };
    Mark mark() const { return {first_live_, n_nodes_, n_records_, arena_.mark()}; }
    void rewind(const Mark& m);

    // The arena's accounting: bytes in use now, the most ever in use (high-water mark), reserved.
    const Arena& arena() const { return arena_; }

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
    // Each value gets a generation no other value of this tape had; those below first_live() were
    // released by clear(). A Var compares its node's generation with its own before every read.
    std::uint64_t first_live() const { return first_live_; }

    // The recorded graph in Graphviz DOT: one box per record (op, label, output shape), one ellipse
    // per leaf (parameter name or "const", shape). Render with: dot -Tsvg graph.dot -o graph.svg
    std::string to_dot() const;
    std::string str() const;  // one line per record: "#3 matmul [32, 384] <- v2 [32, 128], W [128, 384]"

    // For ops (see autograd/detail/op.hpp): a fresh value slot, and a fresh record.
    Node& new_value(const Shape& shape);
    Record& new_record();

private:
    void run_backward(Node& root, const Tensor* seed);  // seed nullptr: d root / d root = 1
    Node& node_slot(std::size_t i) { return node_chunks_[i / kNodesPerChunk][i % kNodesPerChunk]; }

    Arena arena_;                               // values, gradients, saved buffers: reset by clear()
    // Value slots, in chunks so that a Node never moves (Vars point at it) and a growing tape
    // allocates once per chunk, not once per value. Slots are reused across clear().
    static constexpr std::size_t kNodesPerChunk = 256;
    std::vector<std::unique_ptr<Node[]>> node_chunks_;
    std::size_t n_nodes_ = 0;
    std::vector<Record> records_;               // reused across clear(), buffers and all
    std::size_t n_records_ = 0;
    std::uint64_t next_generation_ = 1, first_live_ = 1;
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

// Inside a NoGradGuard ops compute values but record nothing (optimizer steps, reading a value
// without its graph). The values still live on the tape until it is cleared: for inference loops
// use InferenceMode, which also gives their memory back.
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

// Inference (decoding, evaluation): no records, as NoGradGuard, and every value made inside the scope
// is released when it ends (the active tape is rewound to where it was), so a loop that decodes one
// batch per scope runs in the memory of one batch, without clearing anything by hand. A result that
// must outlive the scope is copied out as a Tensor (Tensor t = var.value();).
class InferenceMode {
public:
    InferenceMode();
    ~InferenceMode();
    InferenceMode(const InferenceMode&) = delete;
    InferenceMode& operator=(const InferenceMode&) = delete;

private:
    NoGradGuard no_grad_;
    Tape& tape_;
    Tape::Mark mark_;
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
