// The tape: a flat array of records, one per differentiable op of a forward pass, in creation order.
//
// Backward walks the records once from last to first. Creation order is already a valid topological
// order (an op's inputs exist before it runs), so no graph sort and no recursion is needed, however
// long the unrolled recurrence.
//
// Memory: every value, gradient and saved buffer of the tape lives in the tape's Arena, and clear()
// releases it all in O(1). So a step needs the memory of that step only, whatever shapes the steps
// before it had, and once the largest step has been seen, a step allocates nothing. mark() and
// rewind() release just what came after a point (InferenceMode does this for a scope). Within
// backward, an op output's gradient is finished once its record has run, and its memory goes to the
// next gradient of its size (Var::retain_grad keeps one to read).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "arena.hpp"
#include "variable.hpp"

namespace tg {

struct Record;
using BackwardFn = void (*)(Record&);

// What one op leaves on the tape: enough to push the output's gradient into its inputs. A backward
// function reads it through the accessors below (see autograd/op.hpp for writing an op).
struct Record {
    const char* op = "";           // op name, a string literal
    std::string label;             // optional user label (see Var::label)
    std::vector<Node*> inputs;     // in argument order
    Node* output = nullptr;
    BackwardFn backward = nullptr;
    FloatBuffer saved;             // data backward needs (probabilities, masks), in the tape's arena
    IndexBuffer saved_ids;         // indices backward needs (argmax, token ids), in the tape's arena

    // --- for backward functions ---
    const Tensor& input(std::size_t i) const { return inputs[i]->value; }  // input i's value
    const Tensor& out() const { return output->value; }                    // the op's output
    const Tensor& grad_out() const { return output->grad; }                // d loss / d output
    bool needs_grad(std::size_t i) const { return inputs[i]->requires_grad; }
    // d loss / d input i, to add into (+=): zero-filled the first time any backward touches it, so
    // every op adds its share and an input used twice receives the sum. The one way to write a gradient.
    Tensor& grad_in(std::size_t i);

    // Typed attributes: a small struct of the forward's settings (an axis, a scale) that backward
    // reads back under the same type: `op.set_attrs(SumAttrs{axis, 1.0f / n})` in the forward,
    // `r.attrs<SumAttrs>().axis` in backward. Reading it as another type throws.
    static constexpr std::size_t kMaxAttrBytes = 32;
    template <class A>
    void set_attrs(const A& a) {
        static_assert(std::is_trivially_copyable_v<A> && sizeof(A) <= kMaxAttrBytes &&
                      alignof(A) <= alignof(std::max_align_t), "attributes: a small plain struct (<= 32 bytes)");
        std::memcpy(attr_bytes_.data(), &a, sizeof(A));
        attr_type_ = &attr_tag<A>;
    }
    template <class A>
    const A& attrs() const {
        if (attr_type_ != &attr_tag<A>) attrs_type_error();
        return *std::launder(reinterpret_cast<const A*>(attr_bytes_.data()));
    }
    void clear_attrs() { attr_type_ = nullptr; }

private:
    template <class A>
    static constexpr char attr_tag = 0;  // one address per attribute type
    [[noreturn]] void attrs_type_error() const;
    alignas(std::max_align_t) std::array<std::byte, kMaxAttrBytes> attr_bytes_{};
    const char* attr_type_ = nullptr;
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
    // returned m (reading one of them then throws) and gives their memory back, as it does the
    // gradients a backward since gave values from before (they have none then); what came before is
    // otherwise untouched. Marks nest, last in first out; a rewind to a mark from before a clear() clears.
    struct Mark {
        std::uint64_t first_live = 0;  // tells whether the tape was cleared since
        std::size_t values = 0, records = 0;
        Arena::Mark memory;
        std::uint64_t backwards = 0;   // tells whether a backward ran since
    };
    Mark mark() const { return {first_live_, n_nodes_, n_records_, arena_.mark(), backwards_}; }
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

    // (To print or draw what was recorded: viz/tape_graph.hpp.)

    // For the Op builder (autograd/op.hpp): a fresh value slot, and a fresh record.
    Node& new_value(const Shape& shape);
    Record& new_record();


private:
    friend struct Record;
    void run_backward(Node& root, const Tensor* seed);  // seed nullptr: d root / d root = 1
    void recycle_grad(Node& n);  // n's gradient is finished with: keep its memory for the next one
    void reuse_grad(Node& n);    // give n a finished gradient's memory of n's size, if one is kept
    void note_backward();  // counts backward passes; warns once if steps pile up on the tape
    Node& node_slot(std::size_t i) { return node_chunks_[i / kNodesPerChunk][i % kNodesPerChunk]; }

    Arena arena_;                               // values, gradients, saved buffers: reset by clear()
    // The gradients of op outputs that backward has passed, most recent last, their memory given to
    // the next gradient of the same size: memory still in cache, where a fresh gradient from the arena
    // would first be zeroed from main memory, and a step's peak holds only the gradients in flight.
    // Kept until clear() or rewind() gives their memory back, so another sweep over the same records
    // finds the last one's and allocates nothing. (Few at a time: a model's gradients share sizes.)
    std::vector<Tensor> spare_grads_;
    // Value slots, in chunks so that a Node never moves (Vars point at it) and a growing tape
    // allocates once per chunk, not once per value. Slots are reused across clear().
    static constexpr std::size_t kNodesPerChunk = 256;
    std::vector<std::unique_ptr<Node[]>> node_chunks_;
    std::size_t n_nodes_ = 0;
    std::vector<Record> records_;               // reused across clear(), buffers and all
    std::size_t n_records_ = 0;
    std::uint64_t next_generation_ = 1, first_live_ = 1;
    std::uint64_t backwards_ = 0;          // backward passes so far
    std::size_t records_at_backward_ = 0;  // records on the tape at the last backward() (0: none since clear)
    std::size_t stacked_backwards_ = 0;    // backward passes over new records since the tape was last empty
    static constexpr std::size_t kStackedBackwardsWarning = 64;
    bool warned_growth_ = false;
};

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

// A step's lifetime on the tape: every value and record made inside the scope is released when it
// ends (the active tape is rewound to where the scope began); Parameters and their gradients are
// kept. A training loop opens one per iteration (`StepScope step;` first in the loop's body). A Var
// made inside must not be read after the scope (it throws): copy a Tensor out to keep a value. Scopes
// nest. Without one, a loop must call active_tape().clear() itself; a tape that sees a backward over
// new records on top of an earlier backward's warns once on stderr.
class StepScope {
public:
    StepScope();
    ~StepScope();
    StepScope(const StepScope&) = delete;
    StepScope& operator=(const StepScope&) = delete;

private:
    Tape& tape_;
    Tape::Mark mark_;
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
    StepScope step_;  // constructed first, destroyed last: the values go after the no-grad switch
    NoGradGuard no_grad_;
};

// Anomaly mode: every op checks its output, and every backward step the gradients it produced, for
// NaN and Inf, and throws AnomalyError naming the first op that made one. Costs a pass over each value.
// Per thread, like the active tape and the no-grad switch.
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
