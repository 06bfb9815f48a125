// gradcheck must catch a wrong backward, even a 1% error in a single entry, and must not pass on
// an all-zero gradient. The ops here are written the way a new op is added (see autograd/ops/).
#include <cmath>

#include "helpers.hpp"

using namespace tg;
using Vars = std::span<const Var>;

// tanh with a derivative that is `factor` times too large at element 0 only.
struct Factor {
    float at_0;
};
static Var tanh_with_bad_entry(const Var& x, float factor) {
    Op op("bad_tanh", {x}, x.shape());
    for (std::size_t i = 0; i < x.numel(); ++i) op.out().data()[i] = std::tanh(x.value().data()[i]);
    op.set_attrs(Factor{factor});
    return op.finish([](Record& r) {
        const float *y = r.out().data(), *dy = r.grad_out().data();
        float* dx = r.grad_in(0).data();
        for (std::size_t i = 0; i < r.out().numel(); ++i) {
            const float d = dy[i] * (1.0f - y[i] * y[i]);
            dx[i] += i == 0 ? d * r.attrs<Factor>().at_0 : d;
        }
    });
}

TEST_CASE("gradcheck accepts a correct backward and rejects a wrong one") {
    const Tensor x = tg::test::rand({3, 4}, 1);
    CHECK(gradcheck([](Vars v) { return tanh_with_bad_entry(v[0], 1.0f); }, {x}).ok);
    const GradcheckResult one_percent = gradcheck([](Vars v) { return tanh_with_bad_entry(v[0], 1.01f); }, {x});
    CHECK_FALSE(one_percent.ok);
    CHECK(one_percent.report.find("input 0 [3, 4] element 0:") != std::string::npos);
    // only element 0 is reported wrong
    CHECK(one_percent.report.find("element 1:") == std::string::npos);
    CHECK_FALSE(gradcheck([](Vars v) { return tanh_with_bad_entry(v[0], 0.99f); }, {x}).ok);
}

TEST_CASE("gradcheck fails when the gradient is all zeros") {
    const Tensor x = tg::test::rand({2, 2}, 2);
    // A function whose true derivative is 0 passes only when that is allowed explicitly.
    const GradcheckResult zero = gradcheck([](Vars v) { return v[0] * 0.0f; }, {x});
    CHECK_FALSE(zero.ok);
    CHECK(zero.report.find("all zeros") != std::string::npos);
    GradcheckOptions allow;
    allow.allow_zero_grad = true;
    CHECK(gradcheck([](Vars v) { return v[0] * 0.0f; }, {x}, allow).ok);
}

TEST_CASE("gradcheck leaves the caller's tape alone") {
    Var kept = constant(Tensor({2}, {1, 2}));
    const std::size_t values = active_tape().num_values();
    CHECK(gradcheck([](Vars v) { return exp(v[0]); }, {tg::test::rand({2}, 3)}).ok);
    CHECK(active_tape().num_values() == values);
    CHECK(kept.value().at({1}) == 2.0f);
    active_tape().clear();
}
