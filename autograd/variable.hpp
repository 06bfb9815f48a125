// Var and Parameter: the handles users hold.
//
// A Var names one value of the graph: the output of an op (it lives on a tape until the tape is
// cleared), a constant, or a Parameter (it lives as long as the Parameter, across tapes). A Var is
// two words and copying it is free; it does not own the value. Reading a Var whose value has been
// released since (its tape cleared or rewound) throws a TapeError instead of reading recycled memory.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tensor.hpp"

namespace tg {

class Tape;

// One value in the graph and its gradient. Users rarely touch a Node: they hold Vars and Parameters.
struct Node {
    // Both start empty (no allocation: a tape creates its slots 256 at a time); the tape sizes them.
    Tensor value{Shape{0}};
    Tensor grad{Shape{0}};        // valid when has_grad
    bool requires_grad = false;   // a gradient should flow into this value
    bool has_grad = false;        // grad holds this backward pass's gradient
    bool retain_grad = false;     // an op's output that keeps its gradient after backward (Var::retain_grad)
    Tape* tape = nullptr;         // owning tape; nullptr for a Parameter
    std::uint64_t generation = 0; // a number no other value of its tape ever had (0 for Parameters)
    int index = -1;               // position on its tape, for printing
    int record = -1;              // index of the record that produced it, -1 for leaves
    std::string name;             // Parameters: their name, shown in DOT graphs and errors
};

class Var {
public:
    Var() = default;
    explicit Var(Node* node) : node_(node), generation_(node ? node->generation : 0) {}

    const Tensor& value() const { return checked().value; }
    const Shape& shape() const { return checked().value.shape(); }
    std::size_t numel() const { return checked().value.numel(); }
    float item() const { return checked().value.item(); }
    bool requires_grad() const { return checked().requires_grad; }

    // The gradient computed by the last backward pass; throws if none reached this value. Leaves
    // (Parameters, values made by constant() or an op's caller) keep theirs; an op's output gives its
    // gradient's memory back as soon as backward has passed it, as PyTorch does, unless
    // retain_grad() was called on it before backward.
    const Tensor& grad() const;
    Var& retain_grad();

    // Runs reverse mode from this value (a scalar) over its tape: see Tape::backward.
    void backward() const;
    void backward(const Tensor& seed) const;

    // Labels the record that produced this value; the label shows in printed tapes, DOT graphs and
    // anomaly reports ("attention.alpha"). Returns *this so it chains: auto e = tanh(x).label("e");
    Var& label(std::string_view text);

    bool defined() const { return node_ != nullptr; }
    Node& node() const { return checked(); }  // for ops; checks staleness

private:
    Node& checked() const;
    Node* node_ = nullptr;
    std::uint64_t generation_ = 0;
};

// A leaf that wants a gradient and outlives every tape: weights, biases, embeddings.
class Parameter {
public:
    explicit Parameter(Tensor value = Tensor(), std::string name = "");
    Parameter(Parameter&&) noexcept = default;
    Parameter& operator=(Parameter&&) noexcept = default;

    Var var() const { return Var(node_.get()); }
    operator Var() const { return var(); }  // NOLINT: a Parameter is usable wherever a Var is

    Tensor& value() { return node_->value; }
    const Tensor& value() const { return node_->value; }
    Tensor& grad() { return node_->grad; }   // always allocated, same shape as value
    const Tensor& grad() const { return node_->grad; }
    const Shape& shape() const { return node_->value.shape(); }
    const std::string& name() const { return node_->name; }
    void set_name(std::string n) { node_->name = std::move(n); }
    void zero_grad() { node_->grad.fill(0.0f); }

private:
    std::unique_ptr<Node> node_;  // heap-pinned so that Vars stay valid when the Parameter moves
};

// A value that takes part in the computation but gets no gradient (data, masks). It is copied onto
// the active tape and, like every tape value, is valid until the tape is cleared.
Var constant(const Tensor& value);
Var constant(float value);

}  // namespace tg
