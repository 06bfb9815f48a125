#include "optim/adam.hpp"

#include <cmath>

namespace tg {

Adam::Adam(NamedParameters params, AdamOptions options)
    : Optimizer(std::move(params), &this->options.lr, options.lr), options(options) {
    exp_avg_ = zeros_like_params();
    exp_avg_sq_ = zeros_like_params();
}

AdamW::AdamW(NamedParameters params, AdamWOptions o)
    : Adam(std::move(params), {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay}) {
    decoupled_ = true;
}

void Adam::step() {
    ++steps_;
    const AdamOptions& o = options;
    // Scalars computed in double and rounded to float where used, exactly as PyTorch does.
    const double correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(steps_));
    const double correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(steps_));
    const auto step_size = static_cast<float>(lr() / correction1);
    const auto correction2_sqrt = static_cast<float>(std::sqrt(correction2));
    const auto b1 = static_cast<float>(o.beta1), one_minus_b1 = static_cast<float>(1.0 - o.beta1);
    const auto b2 = static_cast<float>(o.beta2), one_minus_b2 = static_cast<float>(1.0 - o.beta2);
    const auto eps = static_cast<float>(o.eps), wd = static_cast<float>(o.weight_decay);
    const auto decay = static_cast<float>(1.0 - lr() * o.weight_decay);
    for (std::size_t k = 0; k < params_.size(); ++k) {
        Parameter& p = *params_[k].second;
        // Distinct buffers: __restrict lets the compiler vectorise the loop.
        float* __restrict w = p.value().data();
        const float* __restrict grad = p.grad().data();
        float* __restrict m = exp_avg_[k].data();
        float* __restrict v = exp_avg_sq_[k].data();
        const std::size_t n = p.value().numel();
        if (wd != 0.0f && decoupled_)  // AdamW: decay the weights first
            for (std::size_t i = 0; i < n; ++i) w[i] *= decay;
        const bool coupled = wd != 0.0f && !decoupled_;  // Adam's L2 term enters the gradient
        for (std::size_t i = 0; i < n; ++i) {
            const float g = coupled ? grad[i] + wd * w[i] : grad[i];
            m[i] = b1 * m[i] + one_minus_b1 * g;
            v[i] = b2 * v[i] + one_minus_b2 * (g * g);
            const float denom = std::sqrt(v[i]) / correction2_sqrt + eps;
            w[i] -= step_size * m[i] / denom;
        }
    }
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() {
    return named_state({{"exp_avg", &exp_avg_}, {"exp_avg_sq", &exp_avg_sq_}});
}

}  // namespace tg
