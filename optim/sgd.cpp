#include "optim/sgd.hpp"

namespace tg {

SGD::SGD(NamedParameters params, SGDOptions options) : Optimizer(std::move(params), &this->options.lr, options.lr), options(options) {
    if (options.momentum != 0.0) momentum_buffer_ = zeros_like_params();
}

void SGD::step() {
    const SGDOptions& o = options;
    const bool first = steps_ == 0;
    const auto momentum = static_cast<float>(o.momentum), wd = static_cast<float>(o.weight_decay);
    const auto one_minus_dampening = static_cast<float>(1.0 - o.dampening), rate = static_cast<float>(lr());
    ++steps_;
    for (std::size_t k = 0; k < params_.size(); ++k) {
        Parameter& p = *params_[k].second;
        float* w = p.value().data();
        const float* grad = p.grad().data();
        float* buf = momentum != 0.0f ? momentum_buffer_[k].data() : nullptr;
        for (std::size_t i = 0, n = p.value().numel(); i < n; ++i) {
            float d = grad[i] + wd * w[i];
            if (buf) {
                buf[i] = first ? d : momentum * buf[i] + one_minus_dampening * d;
                d = o.nesterov ? d + momentum * buf[i] : buf[i];
            }
            w[i] -= rate * d;
        }
    }
}

std::vector<std::pair<std::string, Tensor*>> SGD::state() {  // empty without momentum
    return named_state({{"momentum_buffer", &momentum_buffer_}});
}

}  // namespace tg
