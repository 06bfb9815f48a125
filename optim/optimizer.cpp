#include "optim/optimizer.hpp"

#include <fmt/format.h>

#include <cmath>
#include <span>

#include "autograd/error.hpp"

namespace tg {

Optimizer::Optimizer(NamedParameters params, double* lr_slot, double lr) : params_(std::move(params)), lr_(lr_slot) {
    if (!(lr >= 0.0)) throw Error(fmt::format("optimizer: learning rate {} must be >= 0", lr));
}

void Optimizer::set_lr(double lr) {
    if (!(lr >= 0.0)) throw Error(fmt::format("optimizer: learning rate {} must be >= 0", lr));
    *lr_ = lr;
}

void Optimizer::zero_grad() {
    for (auto& [name, p] : params_) p->zero_grad();
}

std::vector<Tensor> Optimizer::zeros_like_params() const {
    std::vector<Tensor> out;
    out.reserve(params_.size());
    for (const auto& [name, p] : params_) out.emplace_back(p->shape());
    return out;
}

std::vector<std::pair<std::string, Tensor*>> Optimizer::named_state(
    std::initializer_list<std::pair<const char*, std::vector<Tensor>*>> kinds) {
    std::vector<std::pair<std::string, Tensor*>> out;
    for (std::size_t k = 0; k < params_.size(); ++k)
        for (const auto& [kind, tensors] : kinds)
            if (k < tensors->size()) out.emplace_back(std::string(kind) + "." + params_[k].first, &(*tensors)[k]);
    return out;
}

namespace {

// The sum of squares of a gradient, in double. One running sum would be a chain of dependent
// additions (a few cycles each, over millions of gradients); eight
// independent partial sums let the compiler use vector registers and keep the adders busy.
double sum_of_squares(std::span<const float> g) {
    constexpr std::size_t kLanes = 8;
    double lane[kLanes] = {};
    std::size_t i = 0;
    for (; i + kLanes <= g.size(); i += kLanes)
        for (std::size_t l = 0; l < kLanes; ++l) lane[l] += static_cast<double>(g[i + l]) * g[i + l];
    double sq = 0.0;
    for (; i < g.size(); ++i) sq += static_cast<double>(g[i]) * g[i];
    for (double v : lane) sq += v;
    return sq;
}

// The global L2 norm of the gradients of `params` (get(item) gives a Parameter&), and the scaling.
template <class Range, class Get>
float clip(const Range& params, Get get, float max_norm) {
    double sq = 0.0;
    for (const auto& item : params) sq += sum_of_squares(get(item).grad().flat());
    const auto norm = static_cast<float>(std::sqrt(sq));
    const float scale = max_norm / (norm + 1e-6f);
    if (scale < 1.0f)
        for (const auto& item : params)
            for (float& g : get(item).grad().flat()) g *= scale;
    return norm;
}

}  // namespace

float clip_grad_norm(const std::vector<Parameter*>& params, float max_norm) {
    return clip(params, [](Parameter* p) -> Parameter& { return *p; }, max_norm);
}

float clip_grad_norm(const NamedParameters& params, float max_norm) {  // no copy of the list: it runs every step
    return clip(params, [](const std::pair<std::string, Parameter*>& p) -> Parameter& { return *p.second; }, max_norm);
}

}  // namespace tg
