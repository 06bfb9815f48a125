// Elementwise functions y = f(x), each with its derivative dy/dx written from x or from y.
#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

Var exp(const Var& x) {  // dy/dx = y
    Op op("exp", {x}, x.shape());
    xt::noalias(view(op.out())) = xt::exp(view(x.value()));
    return op.finish([](Record& r) { xt::noalias(view(r.grad_in(0))) += view(r.grad_out()) * view(r.out()); });
}

Var log(const Var& x) {  // dy/dx = 1/x
    Op op("log", {x}, x.shape());
    xt::noalias(view(op.out())) = xt::log(view(x.value()));
    return op.finish([](Record& r) { xt::noalias(view(r.grad_in(0))) += view(r.grad_out()) / view(r.input(0)); });
}

// <doc:tanh>
Var tanh(const Var& x) {  // dy/dx = 1 - y^2
    Op op("tanh", {x}, x.shape());
    xt::noalias(view(op.out())) = xt::tanh(view(x.value()));
    return op.finish([](Record& r) {
        auto y = view(r.out());
        xt::noalias(view(r.grad_in(0))) += view(r.grad_out()) * (1.0f - y * y);
    });
}
// </doc:tanh>

Var sigmoid(const Var& x) {  // dy/dx = y (1 - y)
    Op op("sigmoid", {x}, x.shape());
    xt::noalias(view(op.out())) = 1.0f / (1.0f + xt::exp(-view(x.value())));
    return op.finish([](Record& r) {
        auto y = view(r.out());
        xt::noalias(view(r.grad_in(0))) += view(r.grad_out()) * y * (1.0f - y);
    });
}

Var relu(const Var& x) {  // dy/dx = 1 where x > 0, else 0
    Op op("relu", {x}, x.shape());
    xt::noalias(view(op.out())) = xt::maximum(view(x.value()), 0.0f);
    return op.finish([](Record& r) { xt::noalias(view(r.grad_in(0))) += xt::where(view(r.input(0)) > 0.0f, view(r.grad_out()), 0.0f); });
}

}  // namespace tg
