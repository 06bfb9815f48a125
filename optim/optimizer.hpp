// Optimizer: walks a list of named parameters and updates each from its gradient. Subclasses
// implement step(); their per-parameter state is exposed by name so checkpoints can save it and
// resume training exactly.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "../layers/module.hpp"

namespace tg {

class Optimizer {
public:
    // `lr` points at the learning rate inside the subclass's options (Adam::options.lr, ...): the one
    // place it lives, so setting it through options or through set_lr() is the same thing.
    // (The slot is not read here: the subclass's options are constructed after this base; `lr` is
    // their value, checked here.)
    Optimizer(NamedParameters params, double* lr_slot, double lr);
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    virtual void step() = 0;
    void zero_grad();
    virtual const char* name() const = 0;

    // The learning rate of the next step (schedules change it): the subclass's options.lr. Hyper-
    // parameters are doubles, like PyTorch's Python floats, and are rounded to float where the update
    // uses them, as PyTorch does.
    double lr() const { return *lr_; }
    void set_lr(double lr);

    const NamedParameters& params() const { return params_; }
    // The number of step() calls so far (Adam's bias correction depends on it).
    std::int64_t steps() const { return steps_; }
    void set_steps(std::int64_t n) { steps_ = n; }
    // Every state tensor, named "<kind>.<parameter name>" (e.g. "exp_avg.encoder.fwd.weight_ih").
    virtual std::vector<std::pair<std::string, Tensor*>> state() { return {}; }

protected:
    // One state tensor per parameter, zero-initialised with the parameter's shape.
    std::vector<Tensor> zeros_like_params() const;
    // state() for per-parameter tensors of the given kinds (each a vector like zeros_like_params()'s):
    // "<kind>.<parameter name>", parameter by parameter. An empty vector (a state not in use) adds nothing.
    std::vector<std::pair<std::string, Tensor*>> named_state(
        std::initializer_list<std::pair<const char*, std::vector<Tensor>*>> kinds);
    NamedParameters params_;
    std::int64_t steps_ = 0;

private:
    double* lr_;
};

// Scales all gradients so that their global L2 norm is at most max_norm (torch.nn.utils.clip_grad_norm_:
// scale = max_norm / (norm + 1e-6) when norm > max_norm). Returns the norm before clipping.
float clip_grad_norm(const std::vector<Parameter*>& params, float max_norm);
float clip_grad_norm(const NamedParameters& params, float max_norm);

}  // namespace tg
