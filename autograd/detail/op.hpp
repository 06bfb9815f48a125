// Private to the op implementations (autograd/ops/*.cpp): the xtensor views of tensors, the Op
// builder that records an op on the tape, and the helpers backward functions share.
// This is the only header that pulls in xtensor; public headers never include it.
#pragma once
#include <array>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "autograd/ops.hpp"
#include "autograd/tape.hpp"

namespace tg::detail {

// --- xtensor views over tensor memory (no copies, no allocation for rank <= 4) ---
using XShape = xt::svector<std::size_t, 4>;
inline XShape xshape(const Shape& s) { return XShape(s.begin(), s.end()); }
inline auto view(Tensor& t) { return xt::adapt(t.data(), t.numel(), xt::no_ownership(), xshape(t.shape())); }
inline auto view(const Tensor& t) {
    return xt::adapt(t.data(), t.numel(), xt::no_ownership(), xshape(t.shape()));
}
// A row-major matrix over raw memory, for BLAS.
inline auto matrix(float* p, std::size_t rows, std::size_t cols) {
    return xt::adapt(p, rows * cols, xt::no_ownership(), std::array<std::size_t, 2>{rows, cols});
}
inline auto matrix(const float* p, std::size_t rows, std::size_t cols) {
    return xt::adapt(p, rows * cols, xt::no_ownership(), std::array<std::size_t, 2>{rows, cols});
}

// A tensor's shape around one axis: `outer` blocks of `n` positions of `inner` contiguous floats.
struct AxisSplit {
    std::size_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at(const Shape& s, int axis);

// --- recording an op ---
// Usage, inside an op:   Op op("tanh", {x}, x.shape());
//                        view(op.out()) = ...;               // compute the value
//                        return op.finish(backward_fn);      // record (when enabled) and return
// Inputs are validated by the caller before an Op is built, so a thrown error leaves no half record.
class Op {
public:
    Op(const char* name, std::span<const Var> inputs, const Shape& out_shape);
    Op(const char* name, std::initializer_list<Var> inputs, const Shape& out_shape)
        : Op(name, std::span<const Var>(inputs.begin(), inputs.size()), out_shape) {}

    Tensor& out() { return out_->value; }
    bool recording() const { return rec_ != nullptr; }
    Record& record() { return *rec_; }  // only when recording()
    // Buffers for what backward needs: the record's own when recording, else a scratch buffer.
    FloatBuffer& saved();  // grown with resize_discard: contents unspecified until written
    IndexBuffer& saved_ids();
    Var finish(BackwardFn backward);

private:
    const char* name_;
    Node* out_;
    Record* rec_ = nullptr;
};

// --- helpers for backward functions ---
inline const Tensor& in(const Record& r, int i) { return r.inputs[static_cast<std::size_t>(i)]->value; }
inline const Tensor& out(const Record& r) { return r.output->value; }
inline const Tensor& gout(const Record& r) { return r.output->grad; }
inline bool wants(const Record& r, int i) { return r.inputs[static_cast<std::size_t>(i)]->requires_grad; }
// The gradient buffer of input i, zero-filled the first time backward touches it.
Tensor& grad(Record& r, int i);
Tensor& grad_of(Node& n);
// The gradient buffer of input i for a backward that writes it whole: `beta` is 0 the first time
// (the buffer holds garbage and must be overwritten, saving the zero fill) and 1 after (add to it).
Tensor& grad_to_write(Record& r, int i, float& beta);

// Adds into `into` (shape S) the tensor `g` whose shape S broadcasts to, summing over the broadcast
// axes: the one place where every broadcasting op's backward "un-broadcasts" its gradient.
void sum_to(const Tensor& g, Tensor& into);
// A scratch tensor for backward temporaries (one per thread, reused).
Tensor& scratch(const Shape& s);

// grad(input i) += expr, where expr has the output's shape; reduces over broadcast axes if input i
// was broadcast. Same shape: one fused pass, no temporary.
template <class E>
void accumulate(Record& r, int i, E&& expr) {
    Node& input = *r.inputs[static_cast<std::size_t>(i)];
    if (!input.has_grad && input.value.shape() == out(r).shape()) {  // the first gradient: assign, no zero fill
        input.grad.resize(input.value.shape());
        input.has_grad = true;
        xt::noalias(view(input.grad)) = std::forward<E>(expr);
        return;
    }
    Tensor& g = grad_of(input);
    if (g.shape() == out(r).shape()) {
        xt::noalias(view(g)) += std::forward<E>(expr);
    } else {
        Tensor& tmp = scratch(out(r).shape());
        xt::noalias(view(tmp)) = std::forward<E>(expr);
        sum_to(tmp, g);
    }
}

}  // namespace tg::detail
