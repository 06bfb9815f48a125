// Adding an op, the worked example of docs/autograd.md: softplus(x) = log(1 + e^x), whose
// derivative is the logistic sigmoid. An op is a forward that computes the value and a backward
// that adds into the inputs' gradients; the Op builder records it; gradcheck proves it.
#include "autograd/detail/op.hpp"
#include "helpers.hpp"

namespace tg {
using namespace detail;

Var softplus(const Var& x) {  // y = log(1 + e^x);  dy/dx = 1 / (1 + e^-x)
    Op op("softplus", {x}, x.shape());
    auto v = view(x.value());
    xt::noalias(view(op.out())) = xt::maximum(v, 0.0f) + xt::log1p(xt::exp(-xt::abs(v)));  // stable for large |x|
    return op.finish([](Record& r) {
        accumulate(r, 0, view(gout(r)) / (1.0f + xt::exp(-view(in(r, 0)))));
    });
}

}  // namespace tg

TEST_CASE("a new op: softplus, its values and its gradient check") {
    using namespace tg;
    const Tensor x({4}, {-30.0f, -1.0f, 0.5f, 30.0f});
    const Tensor y = softplus(constant(x)).value();
    for (std::size_t i = 0; i < 4; ++i) CHECK(y.at({i}) == doctest::Approx(std::log1p(std::exp(double(x.at({i}))))));
    CHECK_GRADS([](std::span<const Var> v) { return softplus(v[0]); }, {tg::test::rand({3, 4}, 1, -3.0f, 3.0f)});
    active_tape().clear();
}
