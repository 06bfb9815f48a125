// Adding an op, the worked example of docs/autograd.md: softplus(x) = log(1 + e^x), whose
// derivative is the logistic sigmoid. Only public headers: what a user's own project writes.
// An op is a forward that computes the value and a backward that adds into the inputs' gradients;
// the Op builder records it; gradcheck proves it.
#include <cmath>

#include "helpers.hpp"
#include "tapegrad.hpp"

// <doc:softplus>
namespace my {
using namespace tg;

Var softplus(const Var& x) {  // y = log(1 + e^x);  dy/dx = 1 / (1 + e^-x)
    Op op("softplus", {x}, x.shape());
    const float* in = x.value().data();
    float* y = op.out().data();
    for (std::size_t i = 0; i < x.numel(); ++i)  // stable for large |x|
        y[i] = std::max(in[i], 0.0f) + std::log1p(std::exp(-std::abs(in[i])));
    return op.finish([](Record& r) {
        const float *x = r.input(0).data(), *dy = r.grad_out().data();
        float* dx = r.grad_in(0).data();  // add into it: x may feed other ops too
        for (std::size_t i = 0; i < r.input(0).numel(); ++i) dx[i] += dy[i] / (1.0f + std::exp(-x[i]));
    });
}

}  // namespace my
// </doc:softplus>

// <doc:attrs>
namespace my {
using namespace tg;

// An op with a setting: y = x^p, elementwise, for a fixed power p. The forward keeps p on the record
// as a typed attribute; backward reads it back under the same type.
struct Power {
    float p;
};

Var pow(const Var& x, float p) {
    Op op("pow", {x}, x.shape());
    for (std::size_t i = 0; i < x.numel(); ++i) op.out().data()[i] = std::pow(x.value().data()[i], p);
    op.set_attrs(Power{p});
    return op.finish([](Record& r) {  // dy/dx = p x^(p-1)
        const float p = r.attrs<Power>().p;
        const float *x = r.input(0).data(), *dy = r.grad_out().data();
        float* dx = r.grad_in(0).data();
        for (std::size_t i = 0; i < r.input(0).numel(); ++i) dx[i] += dy[i] * p * std::pow(x[i], p - 1.0f);
    });
}

}  // namespace my
// </doc:attrs>

TEST_CASE("a new op: softplus, its values and its gradient check") {
    using namespace tg;
    const Tensor x({4}, {-30.0f, -1.0f, 0.5f, 30.0f});
    const Tensor y = my::softplus(constant(x)).value();
    for (std::size_t i = 0; i < 4; ++i) CHECK(y.at({i}) == doctest::Approx(std::log1p(std::exp(double(x.at({i}))))));
    CHECK_GRADS([](std::span<const Var> v) { return my::softplus(v[0]); }, {tg::test::rand({3, 4}, 1, -3.0f, 3.0f)});
}

TEST_CASE("a new op with a typed attribute: x^p, by hand and by gradient check") {
    using namespace tg;
    Parameter x(Tensor({2}, {2.0f, 3.0f}));
    Var y = sum(my::pow(x, 3.0f));
    y.backward();
    CHECK(y.item() == doctest::Approx(8.0f + 27.0f));
    CHECK(x.grad().at({0}) == doctest::Approx(12.0f));  // 3 x^2
    CHECK(x.grad().at({1}) == doctest::Approx(27.0f));
    CHECK_GRADS([](std::span<const Var> v) { return my::pow(v[0], 2.5f); }, {tg::test::rand({3, 4}, 2, 0.5f, 2.0f)});
    // Reading the attributes as another type is an error, not a reinterpretation of the bytes.
    struct Other {
        int k;
    };
    const Record& rec = active_tape().record(active_tape().num_records() - 2);  // pow's record (sum's is last)
    CHECK(std::string(rec.op) == "pow");
    CHECK_THROWS_WITH_AS(rec.attrs<Other>(), doctest::Contains("pow: backward read its attributes as a type other"), TapeError);
}

TEST_CASE("an op that throws after it was built leaves no half record, even with a Parameter input") {
    using namespace tg;
    Parameter w(Tensor::ones({2, 3}));
    Tape& tape = active_tape();
    const std::size_t records = tape.num_records(), values = tape.num_values();
    // softmax with a mask that does not broadcast: the op checks after it knows the shapes.
    CHECK_THROWS_AS(softmax(mul_scalar(w, 1.0f), 1, constant(Tensor::ones({3, 3}))), ShapeError);
    CHECK(tape.num_records() == records + 1);  // mul_scalar's, not softmax's
    CHECK(tape.num_values() == values + 2);    // mul_scalar's output and the mask
    // A user's op that fails between Op and finish(): everything the Op took is given back.
    auto failing = [](const Var& x) {
        Op op("failing", {x}, x.shape());
        throw IndexError("failing: refused after the Op was built");
        return op.finish(nullptr);
    };
    Var h = mul_scalar(w, 2.0f);
    const std::size_t before = tape.num_records();
    CHECK_THROWS_AS(failing(h), IndexError);
    CHECK(tape.num_records() == before);
    h.backward(Tensor::ones({2, 3}));  // the tape still works: no record without a backward
    CHECK(w.grad().at({0, 0}) == doctest::Approx(2.0f));
}
