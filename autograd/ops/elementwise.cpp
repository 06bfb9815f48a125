// Arithmetic with NumPy broadcasting. Each op: the value, then its derivative, a few lines apart.
// assign() and add_to() (detail/op.hpp) broadcast the inputs and sum broadcast gradients back to their shape.
#include "autograd/detail/op.hpp"

namespace tg {
using namespace detail;

Var add(const Var& a, const Var& b) {  // d(a+b) = da + db
    Op op("add", {a, b}, broadcast_shapes(a.shape(), b.shape(), "add"));
    assign(op.out(), [](auto x, auto y) { return x + y; }, a.value(), b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), r.out().shape(), [](auto g) { return g; }, r.grad_out());
        if (r.needs_grad(1)) add_to(r.grad_in(1), r.out().shape(), [](auto g) { return g; }, r.grad_out());
    });
}

Var sub(const Var& a, const Var& b) {  // d(a-b) = da - db
    Op op("sub", {a, b}, broadcast_shapes(a.shape(), b.shape(), "sub"));
    assign(op.out(), [](auto x, auto y) { return x - y; }, a.value(), b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), r.out().shape(), [](auto g) { return g; }, r.grad_out());
        if (r.needs_grad(1)) add_to(r.grad_in(1), r.out().shape(), [](auto g) { return -g; }, r.grad_out());
    });
}

Var mul(const Var& a, const Var& b) {  // d(ab) = b da + a db
    Op op("mul", {a, b}, broadcast_shapes(a.shape(), b.shape(), "mul"));
    assign(op.out(), [](auto x, auto y) { return x * y; }, a.value(), b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), r.out().shape(), [](auto g, auto b) { return g * b; }, r.grad_out(), r.input(1));
        if (r.needs_grad(1)) add_to(r.grad_in(1), r.out().shape(), [](auto g, auto a) { return g * a; }, r.grad_out(), r.input(0));
    });
}

Var div(const Var& a, const Var& b) {  // d(a/b) = da / b - a db / b^2
    Op op("div", {a, b}, broadcast_shapes(a.shape(), b.shape(), "div"));
    assign(op.out(), [](auto x, auto y) { return x / y; }, a.value(), b.value());
    return op.finish([](Record& r) {
        if (r.needs_grad(0)) add_to(r.grad_in(0), r.out().shape(), [](auto g, auto b) { return g / b; }, r.grad_out(), r.input(1));
        if (r.needs_grad(1))  // a / b^2 = out / b
            add_to(r.grad_in(1), r.out().shape(), [](auto g, auto y, auto b) { return -g * y / b; }, r.grad_out(), r.out(), r.input(1));
    });
}

Var neg(const Var& a) {
    Op op("neg", {a}, a.shape());
    xt::noalias(flat(op.out())) = -flat(a.value());
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += -flat(r.grad_out()); });
}

// With a float: the scalar is an attribute of the record, not a value on the tape.
Var add_scalar(const Var& a, float s) {
    Op op("add_scalar", {a}, a.shape());
    xt::noalias(flat(op.out())) = flat(a.value()) + s;
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += flat(r.grad_out()); });
}

namespace {
struct Factor {
    float s;
};
}  // namespace

Var mul_scalar(const Var& a, float s) {
    Op op("mul_scalar", {a}, a.shape());
    xt::noalias(flat(op.out())) = flat(a.value()) * s;
    op.set_attrs(Factor{s});
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += flat(r.grad_out()) * r.attrs<Factor>().s; });
}

Var rsub_scalar(const Var& a, float s) {
    Op op("rsub_scalar", {a}, a.shape());
    xt::noalias(flat(op.out())) = s - flat(a.value());
    return op.finish([](Record& r) { xt::noalias(flat(r.grad_in(0))) += -flat(r.grad_out()); });
}

}  // namespace tg
