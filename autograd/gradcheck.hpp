// gradcheck: compares what backward computes with central finite differences, for every element
// of every input. This is how each op and layer proves its derivative.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "variable.hpp"

namespace tg {

struct GradcheckOptions {
    float step = 1e-2f;   // finite-difference step (Richardson-extrapolated, so the error is O(step^4))
    float rtol = 2e-3f;   // an entry passes when |analytic - numeric| <= atol + rtol * |numeric|
    float atol = 1e-4f;
    bool allow_zero_grad = false;  // by default an input whose whole gradient is 0 fails the check
    std::uint64_t seed = 1;        // for the random weights that reduce a non-scalar output
};

struct GradcheckResult {
    bool ok = false;
    std::string report;  // the worst entry of each input; every failing entry's index and both values
    explicit operator bool() const { return ok; }
};

// f maps the inputs (as Vars that want gradients) to an output of any shape. A non-scalar output y
// is reduced to the scalar sum(y * w) with fixed random weights w in [0.5, 1.5], so every output
// element takes part with a different weight. f must be deterministic; it runs on a private tape.
using GradcheckFn = std::function<Var(std::span<const Var>)>;
GradcheckResult gradcheck(const GradcheckFn& f, std::span<const Tensor> inputs, const GradcheckOptions& opt = {});
inline GradcheckResult gradcheck(const GradcheckFn& f, std::initializer_list<Tensor> inputs,
                                 const GradcheckOptions& opt = {}) {
    return gradcheck(f, std::span<const Tensor>(inputs.begin(), inputs.size()), opt);
}

// The same, and also for `params`: Parameters that f uses directly (a module's weights). Their
// gradients are compared too and are left zeroed afterwards; their values are left unchanged.
GradcheckResult gradcheck(const GradcheckFn& f, std::span<const Tensor> inputs, std::span<Parameter* const> params,
                          const GradcheckOptions& opt = {});

}  // namespace tg
