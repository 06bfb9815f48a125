// Elementwise functions y = f(x), each with its derivative dy/dx written from x or from y.
#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

Var exp(const Var& x) {  // dy/dx = y
    Op op("exp", {x}, x.shape());
    xt::noalias(flat(op.out())) = xt::exp(flat(x.value()));
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += flat(r.grad_out()) * flat(r.out()); });
}

Var log(const Var& x) {  // dy/dx = 1/x
    Op op("log", {x}, x.shape());
    xt::noalias(flat(op.out())) = xt::log(flat(x.value()));
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += flat(r.grad_out()) / flat(r.input(0)); });
}

// <doc:tanh>
Var tanh(const Var& x) {  // dy/dx = 1 - y^2
    Op op("tanh", {x}, x.shape());
    xt::noalias(flat(op.out())) = xt::tanh(flat(x.value()));
    return op.finish([](Record& r) {
        auto y = flat(r.out());
        xt::noalias(flat(r.grad_in(0))) += flat(r.grad_out()) * (1.0f - y * y);
    });
}
// </doc:tanh>

Var sigmoid(const Var& x) {  // dy/dx = y (1 - y)
    Op op("sigmoid", {x}, x.shape());
    xt::noalias(flat(op.out())) = 1.0f / (1.0f + xt::exp(-flat(x.value())));
    return op.finish([](Record& r) {
        auto y = flat(r.out());
        xt::noalias(flat(r.grad_in(0))) += flat(r.grad_out()) * y * (1.0f - y);
    });
}

Var relu(const Var& x) {  // dy/dx = 1 where x > 0, else 0
    Op op("relu", {x}, x.shape());
    xt::noalias(flat(op.out())) = xt::maximum(flat(x.value()), 0.0f);
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += xt::where(flat(r.input(0)) > 0.0f, flat(r.grad_out()), 0.0f); });
}

}  // namespace tg
