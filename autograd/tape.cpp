#include "autograd/tape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace tg {

// ---------------------------------------------------------------- Record

Tensor& Record::grad_in(std::size_t i) {
    Node& n = *inputs[i];
    if (!n.has_grad) {
        if (n.tape && n.grad.numel() == 0) n.tape->reuse_grad(n);  // (a buffer of its own from a sweep before: kept)
        n.grad.resize(n.value.shape());
        n.grad.fill(0.0f);
        n.has_grad = true;
    }
    return n.grad;
}

void Record::attrs_type_error() const {
    throw TapeError(fmt::format("{}: backward read its attributes as a type other than the one the forward set{}", op,
                                attr_type_ ? "" : " (the forward set none)"));
}

// ---------------------------------------------------------------- Var, Parameter, constants

Node& Var::checked() const {
    if (node_ == nullptr) throw TapeError("Var: use of an empty (default-constructed) Var");
    // Released: the slot now holds another value (generations differ, or 0 after a rewind), or the
    // tape was cleared and the slot is not reused yet (its memory is, by the arena).
    if (node_->generation != generation_ || (node_->tape && generation_ < node_->tape->first_live()))
        throw TapeError(fmt::format(
            "Var: this value has been released: its tape was cleared, or rewound at the end of an "
            "InferenceMode scope, after it was recorded (value generation {}); values live only until "
            "Tape::clear() or the end of the InferenceMode that made them: copy a Tensor out to keep one",
            generation_));
    return *node_;
}

const Tensor& Var::grad() const {
    Node& n = checked();
    if (!n.has_grad)
        throw TapeError(fmt::format("Var::grad: no gradient reached this value of shape {} (it does not "
                                    "require grad, or backward has not run through it{})",
                                    n.value.shape().str(),
                                    n.record < 0 || !n.requires_grad ? ""
                                    : n.retain_grad
                                        ? ", or the scope (StepScope, InferenceMode) whose backward made it has "
                                          "ended: the gradient lived in that scope's memory"
                                        : ", or it is an op's output, whose gradient backward gives back once "
                                          "past it: call retain_grad() on it before backward to keep it"));
    return n.grad;
}

Var& Var::retain_grad() {
    checked().retain_grad = true;
    return *this;
}

void Var::backward() const {
    Node& n = checked();
    (n.tape ? *n.tape : active_tape()).backward(*this);
}

void Var::backward(const Tensor& seed) const {
    Node& n = checked();
    (n.tape ? *n.tape : active_tape()).backward(*this, seed);
}

Var& Var::label(std::string_view text) {
    Node& n = checked();
    if (n.record >= 0 && n.tape)
        n.tape->record(static_cast<std::size_t>(n.record)).label.assign(text);
    else
        n.name.assign(text);
    return *this;
}

Parameter::Parameter(Tensor value, std::string name) : node_(std::make_unique<Node>()) {
    node_->grad = Tensor(value.shape());
    node_->value = std::move(value);
    node_->requires_grad = true;
    node_->has_grad = true;  // a Parameter's gradient always exists; zero_grad() zeroes it
    node_->name = std::move(name);
}

Var constant(const Tensor& value) {
    Node& n = active_tape().new_value(value.shape());
    std::copy(value.data(), value.data() + value.numel(), n.value.data());
    return Var(&n);
}

Var constant(float value) { return constant(Tensor::scalar(value)); }

// ---------------------------------------------------------------- Tape

Tape::Tape() = default;
Tape::~Tape() = default;

void Tape::clear() {
    spare_grads_.clear();  // their memory goes back with the arena's
    records_at_backward_ = 0;
    first_live_ = next_generation_;  // every value so far is released: O(1), no walk over the slots
    n_nodes_ = 0;
    n_records_ = 0;
    arena_.reset();
}

void Tape::rewind(const Mark& m) {
    if (m.first_live != first_live_) {  // cleared since the mark: all that is left came after it
        clear();
        return;
    }
    if (m.values > n_nodes_ || m.records > n_records_) return;  // rewound past it already
    if (m.values == 0 && m.records == 0) {  // back to empty: a clear, which also consolidates the arena
        clear();
        return;
    }
    spare_grads_.clear();
    if (m.backwards != backwards_)  // a value from before the mark may have had its gradient made after it
        for (std::size_t i = 0; i < m.values; ++i) {
            Node& n = node_slot(i);
            if (n.grad.data() && arena_.allocated_since(m.memory, n.grad.data())) {  // that memory goes back now
                n.grad.use_arena(&arena_);
                n.has_grad = false;
            }
        }
    records_at_backward_ = std::min(records_at_backward_, m.records);
    for (std::size_t i = m.values; i < n_nodes_; ++i) node_slot(i).generation = 0;  // stale Vars now throw
    n_nodes_ = m.values;
    n_records_ = m.records;
    arena_.rewind(m.memory);
}

Node& Tape::new_value(const Shape& shape) {
    if (n_nodes_ == node_chunks_.size() * kNodesPerChunk) node_chunks_.push_back(std::make_unique<Node[]>(kNodesPerChunk));
    Node& n = node_slot(n_nodes_);
    n.value.use_arena(&arena_);  // the slot's old memory went back with the arena
    n.value.resize(shape);
    n.grad.use_arena(&arena_);
    n.requires_grad = false;
    n.has_grad = false;
    n.retain_grad = false;
    n.tape = this;
    n.generation = next_generation_++;
    n.index = static_cast<int>(n_nodes_++);
    n.record = -1;
    n.name.clear();
    return n;
}

Record& Tape::new_record() {
    if (n_records_ == records_.size()) records_.emplace_back();
    Record& r = records_[n_records_++];
    r.label.clear();
    r.inputs.clear();
    r.saved.use_arena(&arena_);
    r.saved_ids.use_arena(&arena_);
    r.clear_attrs();
    r.backward = nullptr;
    return r;
}

const Record& Tape::record(std::size_t i) const {
    if (i >= n_records_) throw IndexError(fmt::format("Tape::record: index {} but the tape has {} records", i, n_records_));
    return records_[i];
}

Record& Tape::record(std::size_t i) { return const_cast<Record&>(std::as_const(*this).record(i)); }

void Tape::backward(const Var& root) {
    Node& n = root.node();
    if (n.value.numel() != 1)
        throw TapeError(fmt::format("backward: the root has shape {}, not a scalar; pass a seed gradient of "
                                    "that shape (Var::backward(seed)) for a vector-Jacobian product",
                                    n.value.shape().str()));
    note_backward();
    run_backward(n, nullptr);
}

void Tape::backward(const Var& root, const Tensor& seed) {
    Node& n = root.node();
    if (!(seed.shape() == n.value.shape()))
        throw ShapeError(fmt::format("backward: seed gradient of shape {} for a root of shape {}",
                                     seed.shape().str(), n.value.shape().str()));
    note_backward();
    run_backward(n, &seed);
}

// The one way a tape grows without bound is a loop that records a step on top of the previous one
// (no StepScope, no clear()): memory, and the time of every backward, grow with each step. That
// shows as backward after backward over new records with nothing released in between. A few in a
// row are legitimate (gradients of several micro-batches accumulated in one step); 64 are a loop.
void Tape::note_backward() {
    ++backwards_;
    if (n_records_ > records_at_backward_) {
        if (records_at_backward_ == 0) stacked_backwards_ = 0;
        ++stacked_backwards_;
    }
    if (stacked_backwards_ == kStackedBackwardsWarning && !warned_growth_) {
        warned_growth_ = true;
        fmt::print(stderr,
                   "tapegrad: warning: {} backward passes on one tape without releasing it ({} records, {:.0f} MB): "
                   "a loop must release each step (tg::StepScope, or Tape::clear()) or its memory grows with "
                   "every step\n",
                   stacked_backwards_, n_records_, static_cast<double>(arena_.bytes_in_use()) / 1e6);
    }
    records_at_backward_ = n_records_;
}

// <doc:backward>
void Tape::run_backward(Node& root, const Tensor* seed) {
    if (!root.requires_grad)
        throw TapeError("backward: the root does not require grad (no Parameter contributed to it, or it "
                        "was computed inside a NoGradGuard)");
    if (root.tape != nullptr && root.tape != this) throw TapeError("backward: the root was recorded on another tape");
    if (root.tape == nullptr) {  // the root is itself a Parameter: d p / d p = seed (or 1)
        for (std::size_t i = 0; i < root.grad.numel(); ++i) root.grad.data()[i] += seed ? seed->data()[i] : 1.0f;
        return;
    }
    for (std::size_t i = 0; i < n_nodes_; ++i) node_slot(i).has_grad = false;
    root.grad.resize(root.value.shape());
    if (seed) std::copy(seed->data(), seed->data() + seed->numel(), root.grad.data());
    else root.grad.fill(1.0f);
    root.has_grad = true;

    const bool check = anomaly_mode();
    // Creation order is a topological order, so one reverse sweep visits every record after all
    // records that consume its output: its gradient is complete when we reach it.
    for (int i = root.record; i >= 0; --i) {
        Record& r = records_[static_cast<std::size_t>(i)];
        if (!r.output->has_grad) continue;  // not on a path to the root
        r.backward(r);
        if (r.output != &root && !r.output->retain_grad) recycle_grad(*r.output);  // no one reads it now
        if (!check) continue;
        for (std::size_t k = 0; k < r.inputs.size(); ++k) {
            const Node* in = r.inputs[k];
            if (in->requires_grad && in->has_grad && !all_finite(in->grad))
                throw AnomalyError(fmt::format("anomaly: backward of '{}'{} (record #{}) produced NaN or Inf in the "
                                               "gradient of input {} (shape {})",
                                               r.op, r.label.empty() ? "" : " [" + r.label + "]", i, k,
                                               in->value.shape().str()));
        }
    }
}
// </doc:backward>

void Tape::recycle_grad(Node& n) {
    spare_grads_.push_back(std::move(n.grad));
    n.grad.use_arena(&arena_);
    n.has_grad = false;
}

void Tape::reuse_grad(Node& n) {
    for (std::size_t k = spare_grads_.size(); k-- > 0;) {  // the most recent, the likeliest in cache
        if (spare_grads_[k].numel() != n.value.numel()) continue;
        n.grad = std::move(spare_grads_[k]);
        spare_grads_.erase(spare_grads_.begin() + static_cast<std::ptrdiff_t>(k));
        return;
    }
}

// ---------------------------------------------------------------- thread-local switches

namespace {
thread_local Tape default_tape;
thread_local Tape* current_tape = nullptr;
thread_local bool grad_on = true;
thread_local bool anomaly_on = false;
}  // namespace

Tape& active_tape() { return current_tape ? *current_tape : default_tape; }

TapeScope::TapeScope(Tape& tape) : previous_(current_tape) { current_tape = &tape; }
TapeScope::~TapeScope() { current_tape = previous_; }

bool grad_enabled() { return grad_on; }
NoGradGuard::NoGradGuard() : previous_(grad_on) { grad_on = false; }
NoGradGuard::~NoGradGuard() { grad_on = previous_; }

StepScope::StepScope() : tape_(active_tape()), mark_(tape_.mark()) {}
StepScope::~StepScope() { tape_.rewind(mark_); }

InferenceMode::InferenceMode() = default;  // the members do it all: see the header
InferenceMode::~InferenceMode() = default;

void set_anomaly_mode(bool on) { anomaly_on = on; }
bool anomaly_mode() { return anomaly_on; }
AnomalyModeGuard::AnomalyModeGuard(bool on) : previous_(anomaly_on) { anomaly_on = on; }
AnomalyModeGuard::~AnomalyModeGuard() { anomaly_on = previous_; }

}  // namespace tg
