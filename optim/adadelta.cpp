#include "optim/adadelta.hpp"

#include <cmath>

namespace tg {

Adadelta::Adadelta(NamedParameters params, AdadeltaOptions options)
    : Optimizer(std::move(params), &this->options.lr, options.lr), options(options) {
    square_avg_ = zeros_like_params();
    acc_delta_ = zeros_like_params();
}

void Adadelta::step() {
    ++steps_;
    const AdadeltaOptions& o = options;
    const auto rho = static_cast<float>(o.rho), one_minus_rho = static_cast<float>(1.0 - o.rho);
    const auto eps = static_cast<float>(o.eps), wd = static_cast<float>(o.weight_decay), rate = static_cast<float>(lr());
    for (std::size_t k = 0; k < params_.size(); ++k) {
        Parameter& p = *params_[k].second;
        float* w = p.value().data();
        const float* grad = p.grad().data();
        float* s = square_avg_[k].data();
        float* u = acc_delta_[k].data();
        for (std::size_t i = 0, n = p.value().numel(); i < n; ++i) {
            const float g = grad[i] + wd * w[i];
            s[i] = rho * s[i] + one_minus_rho * (g * g);
            const float delta = std::sqrt(u[i] + eps) / std::sqrt(s[i] + eps) * g;
            u[i] = rho * u[i] + one_minus_rho * (delta * delta);
            w[i] -= rate * delta;
        }
    }
}

std::vector<std::pair<std::string, Tensor*>> Adadelta::state() {
    return named_state({{"square_avg", &square_avg_}, {"acc_delta", &acc_delta_}});
}

}  // namespace tg
