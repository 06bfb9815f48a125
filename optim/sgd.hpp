// SGD with momentum, PyTorch's torch.optim.SGD semantics:
//     d = g + weight_decay * p;  buf = d (first step) or momentum * buf + (1 - dampening) * d;
//     d = nesterov ? d + momentum * buf : buf;  p -= lr * d
#pragma once
#include "optimizer.hpp"

namespace tg {

struct SGDOptions {
    double lr = 1e-2;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;
};

class SGD : public Optimizer {
public:
    explicit SGD(NamedParameters params, SGDOptions options = {});
    void step() override;
    const char* name() const override { return "sgd"; }
    std::vector<std::pair<std::string, Tensor*>> state() override;
    SGDOptions options;

private:
    std::vector<Tensor> momentum_buffer_;
};

}  // namespace tg
