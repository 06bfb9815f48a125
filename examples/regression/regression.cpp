#include "autograd/autograd.hpp"
#include <fmt/core.h>
using namespace tg;

int main() {
    Generator gen(0);
    Parameter w(Tensor::randn({3, 1}, gen), "w"), b(Tensor::zeros({1}), "b");
    Tensor x = Tensor::randn({64, 3}, gen);                  // data: y = x . [2, -1, 0.5] + 3
    Tensor y(Shape{64, 1});
    for (std::size_t i = 0; i < 64; ++i)
        y.at({i, 0}) = 2 * x.at({i, 0}) - x.at({i, 1}) + 0.5f * x.at({i, 2}) + 3;

    for (int step = 0; step < 200; ++step) {
        StepScope step_scope;                                // this step's graph is released at the }
        w.zero_grad(); b.zero_grad();
        Var err = matmul(constant(x), w) + b - constant(y);  // [64,3] @ [3,1] + [1]: broadcasting
        Var loss = mean(err * err);
        loss.backward();                                     // one reverse sweep over the tape
        for (Parameter* p : {&w, &b})                        // plain SGD
            for (std::size_t i = 0; i < p->value().numel(); ++i) p->value().data()[i] -= 0.1f * p->grad().data()[i];
        if (step % 50 == 0) fmt::print("step {:3}  loss {:.3g}\n", step, loss.item());
    }
    fmt::print("w = {}, b = {}\n", w.value().str(), b.value().str());  // w = [[2], [-1], [0.5]], b = [3]
}
