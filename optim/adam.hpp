// Adam and AdamW with PyTorch's exact semantics (torch.optim.Adam / AdamW, amsgrad off):
//
//     g  = grad (+ weight_decay * p for Adam)           p *= 1 - lr * weight_decay  (AdamW, first)
//     m  = beta1 m + (1 - beta1) g                      v = beta2 v + (1 - beta2) g^2
//     p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#pragma once
#include "optimizer.hpp"

namespace tg {

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
};

class Adam : public Optimizer {
public:
    explicit Adam(NamedParameters params, AdamOptions options = {});
    void step() override;
    const char* name() const override { return decoupled_ ? "adamw" : "adam"; }
    std::vector<std::pair<std::string, Tensor*>> state() override;
    AdamOptions options;

protected:
    bool decoupled_ = false;  // AdamW: weight decay applied to the parameter, not added to the gradient

private:
    std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

// AdamW's options differ from Adam's only in the default weight decay, PyTorch's 1e-2: a type of
// their own, so that AdamW(params, {.lr = 3e-4}) keeps it (with AdamOptions it would silently be 0).
struct AdamWOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 1e-2;
};

class AdamW : public Adam {
public:
    explicit AdamW(NamedParameters params, AdamWOptions options = {});
};

}  // namespace tg
