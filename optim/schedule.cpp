#include "optim/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "autograd/error.hpp"

namespace tg {

StepDecay::StepDecay(Optimizer& opt, std::int64_t step_size, double gamma)
    : LRSchedule(opt), step_size_(step_size), gamma_(gamma) {
    if (step_size < 1) throw Error(fmt::format("StepDecay: step_size {} must be >= 1", step_size));
    apply(0);
}

double StepDecay::factor(std::int64_t t) const { return std::pow(gamma_, static_cast<double>(t / step_size_)); }

LinearWarmup::LinearWarmup(Optimizer& opt, std::int64_t warmup, double start_factor)
    : LRSchedule(opt), warmup_(warmup), start_(start_factor) {
    if (warmup < 1) throw Error(fmt::format("LinearWarmup: warmup {} must be >= 1 step", warmup));
    apply(0);
}

double LinearWarmup::factor(std::int64_t t) const {
    return start_ + (1.0 - start_) * static_cast<double>(std::min(t, warmup_)) / static_cast<double>(warmup_);
}

double warmup_factor(std::int64_t step, std::int64_t warmup) {
    return step < warmup ? static_cast<double>(step + 1) / static_cast<double>(warmup) : 1.0;
}

double inverse_sqrt_factor(std::int64_t step, std::int64_t warmup) {
    return std::sqrt(static_cast<double>(std::max<std::int64_t>(warmup, 1)) / static_cast<double>(step + 1));
}

}  // namespace tg
