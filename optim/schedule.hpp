// Learning-rate schedules. A schedule owns the optimizer's base rate and sets
// optimizer's lr = base * factor(t) on construction (t = 0) and after each step() (t = 1, 2, ...),
// as torch.optim.lr_scheduler does. Call step() once per optimizer step (or per epoch).
#pragma once
#include <cstdint>

#include "optimizer.hpp"

namespace tg {

class LRSchedule {
public:
    explicit LRSchedule(Optimizer& opt) : opt_(opt), base_lr_(opt.lr()) {}
    virtual ~LRSchedule() = default;
    virtual double factor(std::int64_t t) const = 0;
    void step() { apply(++t_); }
    std::int64_t steps() const { return t_; }
    void set_steps(std::int64_t t) { apply(t_ = t); }  // for resuming
    double base_lr() const { return base_lr_; }

protected:
    void apply(std::int64_t t) { opt_.set_lr(base_lr_ * factor(t)); }

private:
    Optimizer& opt_;
    double base_lr_;
    std::int64_t t_ = 0;
};

// lr = base * gamma^(t / step_size)   (torch StepLR)
class StepDecay : public LRSchedule {
public:
    StepDecay(Optimizer& opt, std::int64_t step_size, double gamma);
    double factor(std::int64_t t) const override;

private:
    std::int64_t step_size_;
    double gamma_;
};

// lr rises linearly from base * start_factor to base over `warmup` steps, then stays (torch LinearLR).
class LinearWarmup : public LRSchedule {
public:
    LinearWarmup(Optimizer& opt, std::int64_t warmup, double start_factor = 0.0);
    double factor(std::int64_t t) const override;

private:
    std::int64_t warmup_;
    double start_;
};

// The factors of the schedules a training composes itself (a budget in seconds is not a function of
// the step alone), for the step about to be taken, counted from 0:
//   warmup_factor        (step + 1) / warmup while step < warmup, then 1: from 0 to the full rate
//   inverse_sqrt_factor  sqrt(max(warmup, 1) / (step + 1)): after the warmup, down as 1 / sqrt(step),
//                        the Transformer's schedule (Vaswani et al. 2017, Eq. 3, with the peak rate given)
double warmup_factor(std::int64_t step, std::int64_t warmup);
double inverse_sqrt_factor(std::int64_t step, std::int64_t warmup);

}  // namespace tg
