// Adadelta (Zeiler 2012), the paper's optimizer (rho 0.95, eps 1e-6), with torch.optim.Adadelta's
// semantics:  s = rho s + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(s + eps) * g;
//             u = rho u + (1 - rho) d^2;  p -= lr * d        (lr 1.0 as in the method)
#pragma once
#include "optimizer.hpp"

namespace tg {

struct AdadeltaOptions {
    double lr = 1.0;
    double rho = 0.95;
    double eps = 1e-6;
    double weight_decay = 0.0;
};

class Adadelta : public Optimizer {
public:
    explicit Adadelta(NamedParameters params, AdadeltaOptions options = {});
    void step() override;
    const char* name() const override { return "adadelta"; }
    std::vector<std::pair<std::string, Tensor*>> state() override;
    AdadeltaOptions options;

private:
    std::vector<Tensor> square_avg_, acc_delta_;
};

}  // namespace tg
