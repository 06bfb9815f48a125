// Arithmetic with NumPy broadcasting. Each op: the value, then its derivative, a few lines apart.
// Gradients of broadcast inputs are summed back to their shape by add_to() (see detail/op.hpp).
#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

Var add(const Var& a, const Var& b) {  // d(a+b) = da + db
    Op op("add", {a, b}, broadcast_shapes(a.shape(), b.shape(), "add"));
    xt::noalias(view(op.out())) = view(a.value()) + view(b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), view(r.grad_out()), r.out().shape());
        if (r.needs_grad(1)) add_to(r.grad_in(1), view(r.grad_out()), r.out().shape());
    });
}

Var sub(const Var& a, const Var& b) {  // d(a-b) = da - db
    Op op("sub", {a, b}, broadcast_shapes(a.shape(), b.shape(), "sub"));
    xt::noalias(view(op.out())) = view(a.value()) - view(b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), view(r.grad_out()), r.out().shape());
        if (r.needs_grad(1)) add_to(r.grad_in(1), -view(r.grad_out()), r.out().shape());
    });
}

Var mul(const Var& a, const Var& b) {  // d(ab) = b da + a db
    Op op("mul", {a, b}, broadcast_shapes(a.shape(), b.shape(), "mul"));
    xt::noalias(view(op.out())) = view(a.value()) * view(b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), view(r.grad_out()) * view(r.input(1)), r.out().shape());
        if (r.needs_grad(1)) add_to(r.grad_in(1), view(r.grad_out()) * view(r.input(0)), r.out().shape());
    });
}

Var div(const Var& a, const Var& b) {  // d(a/b) = da / b - a db / b^2
    Op op("div", {a, b}, broadcast_shapes(a.shape(), b.shape(), "div"));
    xt::noalias(view(op.out())) = view(a.value()) / view(b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), view(r.grad_out()) / view(r.input(1)), r.out().shape());
        if (r.needs_grad(1)) add_to(r.grad_in(1), -view(r.grad_out()) * view(r.out()) / view(r.input(1)), r.out().shape());  // a/b^2 = out/b
    });
}

Var neg(const Var& a) {
    Op op("neg", {a}, a.shape());
    xt::noalias(view(op.out())) = -view(a.value());
    return op.finish([](Record& r) { xt::noalias(view(r.grad_in(0))) += -view(r.grad_out()); });
}

// With a float: the scalar is an attribute of the record, not a value on the tape.
Var add_scalar(const Var& a, float s) {
    Op op("add_scalar", {a}, a.shape());
    xt::noalias(view(op.out())) = view(a.value()) + s;
    return op.finish([](Record& r) { xt::noalias(view(r.grad_in(0))) += view(r.grad_out()); });
}

namespace {
struct Factor {
    float s;
};
}  // namespace

Var mul_scalar(const Var& a, float s) {
    Op op("mul_scalar", {a}, a.shape());
    xt::noalias(view(op.out())) = view(a.value()) * s;
    op.set_attrs(Factor{s});
    return op.finish([](Record& r) { xt::noalias(view(r.grad_in(0))) += view(r.grad_out()) * r.attrs<Factor>().s; });
}

Var rsub_scalar(const Var& a, float s) {
    Op op("rsub_scalar", {a}, a.shape());
    xt::noalias(view(op.out())) = s - view(a.value());
    return op.finish([](Record& r) { xt::noalias(view(r.grad_in(0))) += -view(r.grad_out()); });
}

}  // namespace tg
