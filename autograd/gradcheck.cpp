#include "autograd/gradcheck.hpp"

#include <fmt/format.h>

#include <cmath>

#include "autograd/random.hpp"
#include "autograd/tape.hpp"

namespace tg {

GradcheckResult gradcheck(const GradcheckFn& f, std::span<const Tensor> inputs, const GradcheckOptions& opt) {
    return gradcheck(f, inputs, {}, opt);
}

GradcheckResult gradcheck(const GradcheckFn& f, std::span<const Tensor> inputs, std::span<Parameter* const> module_params,
                          const GradcheckOptions& opt) {
    Tape tape;  // private, so the caller's tape is left as it was
    TapeScope scope(tape);
    std::vector<Parameter> input_params;
    std::vector<Var> vars;
    for (std::size_t k = 0; k < inputs.size(); ++k) input_params.emplace_back(inputs[k], fmt::format("input {}", k));
    for (const Parameter& p : input_params) vars.push_back(p.var());
    // Everything checked: the inputs, then the module's parameters.
    std::vector<Parameter*> params;
    for (Parameter& p : input_params) params.push_back(&p);
    for (Parameter* p : module_params) {
        p->zero_grad();
        params.push_back(p);
    }

    // Analytic: one backward pass seeded with the weights w gives d sum(y*w) / d input.
    Var y = f(vars);
    Generator gen(opt.seed);
    const Tensor weights = Tensor::uniform(y.shape(), 0.5f, 1.5f, gen);
    y.backward(weights);

    // Numeric: the same scalar, in double, with one input element moved.
    auto objective = [&]() {
        NoGradGuard no_grad;
        tape.clear();
        Var out = f(vars);
        double s = 0.0;
        for (std::size_t i = 0; i < out.numel(); ++i)
            s += static_cast<double>(out.value().data()[i]) * static_cast<double>(weights.data()[i]);
        return s;
    };
    auto central = [&](float& x, float step) {  // (f(x+h) - f(x-h)) / (actual distance between the points)
        const float saved = x;
        const float hi = saved + step, lo = saved - step;
        x = hi;
        const double f_hi = objective();
        x = lo;
        const double f_lo = objective();
        x = saved;
        return (f_hi - f_lo) / (static_cast<double>(hi) - static_cast<double>(lo));
    };

    GradcheckResult result{true, ""};
    for (std::size_t k = 0; k < params.size(); ++k) {
        Tensor& value = params[k]->value();
        const Tensor& analytic = params[k]->grad();
        const std::string& what = params[k]->name().empty() ? fmt::format("parameter {}", k) : params[k]->name();
        bool all_zero = true;
        float worst = 0.0f;
        std::size_t worst_at = 0;
        int failures = 0;
        for (std::size_t i = 0; i < value.numel(); ++i) {
            // Richardson extrapolation of two central differences cancels the h^2 error term.
            const double d1 = central(value.data()[i], opt.step), d2 = central(value.data()[i], opt.step / 2);
            const auto numeric = static_cast<float>((4.0 * d2 - d1) / 3.0);
            const float a = analytic.data()[i], err = std::fabs(a - numeric);
            all_zero = all_zero && a == 0.0f;
            if (err > worst) worst = err, worst_at = i;
            if (err > opt.atol + opt.rtol * std::fabs(numeric)) {
                result.ok = false;
                if (++failures <= 10)
                    result.report += fmt::format("  {} {} element {}: backward {:.7g}, finite differences {:.7g}\n",
                                                 what, value.shape().str(), i, a, numeric);
            }
        }
        if (failures > 10) result.report += fmt::format("  {}: ... {} failing elements in all\n", what, failures);
        if (all_zero && value.numel() > 0 && !opt.allow_zero_grad) {
            result.ok = false;
            result.report += fmt::format("  {} {}: the gradient is all zeros, so the check proves nothing\n", what,
                                         value.shape().str());
        }
        result.report += fmt::format("  {} {}: largest difference {:.3g} at element {}\n", what,
                                     value.shape().str(), worst, worst_at);
    }
    for (Parameter* p : module_params) p->zero_grad();
    result.report = (result.ok ? "gradcheck passed\n" : "gradcheck FAILED\n") + result.report;
    return result;
}

}  // namespace tg
