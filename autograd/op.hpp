// Writing an op: the public way, the same for the library's own ops and for a user's.
//
// An op is a forward that computes its output's value and a backward that adds the output's gradient,
// pushed through the op's derivative, into its inputs' gradients. The Op builder records it:
//
//     Var softplus(const Var& x) {                            // y = log(1 + e^x)
//         Op op("softplus", {x}, x.shape());                  // a value slot for y (a record if needed)
//         for (i ...) op.out().data()[i] = ...;               // compute y
//         return op.finish([](Record& r) {                    // dy/dx = sigmoid(x)
//             Tensor& dx = r.grad_in(0);                      // zero-filled the first time: add into it
//             for (i ...) dx.data()[i] += r.grad_out().data()[i] * sigmoid(r.input(0).data()[i]);
//         });
//     }
//
// Backward reads the record: r.input(i), r.out(), r.grad_out(), r.needs_grad(i), and writes only
// r.grad_in(i). What else it needs the forward keeps on the record: a small struct of settings with
// op.set_attrs(...) (read back as r.attrs<T>()), floats in op.saved(), indices in op.saved_ids().
// The backward function is a plain function (a lambda without captures): everything it needs is on
// the record, so a tape holds no closures. tests/test_new_op.cpp is a complete example; gradcheck()
// proves a backward right (autograd/gradcheck.hpp).
#pragma once
#include <initializer_list>
#include <span>

#include "tape.hpp"

namespace tg {

class Op {
public:
    // Checks the inputs (live, on the active tape), takes a value slot of out_shape on the active tape,
    // and, when gradients are enabled and an input requires one, a record. Check your own arguments
    // (shapes, indices) before building the Op, or after: if the Op is destroyed without finish()
    // (an exception on the way), everything it took is given back, so no half record is left.
    Op(const char* name, std::span<const Var> inputs, const Shape& out_shape);
    Op(const char* name, std::initializer_list<Var> inputs, const Shape& out_shape)
        : Op(name, std::span<const Var>(inputs.begin(), inputs.size()), out_shape) {}
    ~Op();
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;

    Tensor& out() { return out_->value; }   // the output's value, to compute (contents unspecified)
    bool recording() const { return rec_ != nullptr; }

    // What backward will need. When nothing is recorded these are no-ops / scratch buffers, so a
    // forward can fill them unconditionally (or skip the work when !recording()).
    template <class A>
    void set_attrs(const A& a) {
        if (rec_) rec_->set_attrs(a);
    }
    FloatBuffer& saved();     // grown with resize_discard: contents unspecified until written
    IndexBuffer& saved_ids();

    // Records `backward` (when recording) and returns the output. In anomaly mode, checks it for NaN/Inf.
    Var finish(BackwardFn backward);

private:
    const char* name_;
    Tape& tape_;
    Tape::Mark start_;  // where to rewind to if the op never finishes
    Node* out_;
    Record* rec_ = nullptr;
    bool finished_ = false;
};

}  // namespace tg
