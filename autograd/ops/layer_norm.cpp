// Layer normalisation (Ba et al. 2016), torch.nn.functional.layer_norm over the last axis: each row of
// D features is standardised by its own mean and (biased) variance, then scaled and shifted:
//
//     y = gamma * x_hat + beta,   x_hat = (x - mu) * r,   r = 1 / sqrt(var + eps)
//
// Backward, per row, with dx_hat = dy * gamma (the mean and r depend on every x of the row):
//     dx = r * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)),
//     dgamma = sum over rows of dy * x_hat,   dbeta = sum over rows of dy.
#include <fmt/format.h>

#include <cmath>

#include "autograd/detail/op.hpp"

namespace tg {

namespace {
// sum_k f(k) over a row of D, in eight partial sums: one running sum is a chain of D dependent
// additions, eight independent ones the compiler runs side by side in one vector register.
template <class F>
double row_sum(std::size_t D, F&& f) {
    double lane[8] = {};
    std::size_t k = 0;
    for (; k + 8 <= D; k += 8)
        for (std::size_t l = 0; l < 8; ++l) lane[l] += f(k + l);
    double s = 0.0;
    for (; k < D; ++k) s += f(k);
    for (double v : lane) s += v;
    return s;
}
}  // namespace

Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
    const Shape& s = x.shape();
    const std::size_t D = s.rank() ? s[s.rank() - 1] : 0;
    if (D == 0 || !(gamma.shape() == Shape{D}) || !(beta.shape() == Shape{D}))
        throw ShapeError(fmt::format("layer_norm: input {} is normalised over its last axis: gamma {} and beta {} must be [{}]",
                                     s.str(), gamma.shape().str(), beta.shape().str(), D));
    if (!(eps > 0.0f)) throw Error(fmt::format("layer_norm: eps {} must be positive (input {})", eps, s.str()));
    const std::size_t rows = x.numel() / D;
    Op op("layer_norm", {x, gamma, beta}, s);
    FloatBuffer& stats = op.saved();  // per row: mu and r, for backward
    stats.resize_discard(2 * rows);
    const float *g = gamma.value().data(), *b = beta.value().data();
    for (std::size_t n = 0; n < rows; ++n) {
        const float* xr = x.value().data() + n * D;
        const double mu = row_sum(D, [&](std::size_t k) { return double(xr[k]); }) / double(D);
        const double var = row_sum(D, [&](std::size_t k) { return (xr[k] - mu) * (xr[k] - mu); }) / double(D);
        const auto m = static_cast<float>(mu), r = static_cast<float>(1.0 / std::sqrt(var + eps));
        stats[2 * n] = m;
        stats[2 * n + 1] = r;
        float* y = op.out().data() + n * D;
        for (std::size_t k = 0; k < D; ++k) y[k] = g[k] * (xr[k] - m) * r + b[k];
    }
    return op.finish([](Record& r) {
        const std::size_t D = r.input(1).numel(), rows = r.input(0).numel() / D;
        const float* gamma = r.input(1).data();
        for (std::size_t n = 0; n < rows; ++n) {
            const float *x = r.input(0).data() + n * D, *dy = r.grad_out().data() + n * D;
            const float mu = r.saved[2 * n], rstd = r.saved[2 * n + 1];
            auto x_hat = [&](std::size_t k) { return (x[k] - mu) * rstd; };
            if (r.needs_grad(0)) {
                const auto mean_dx_hat = static_cast<float>(row_sum(D, [&](std::size_t k) { return dy[k] * gamma[k]; }) / double(D));
                const auto mean_dx_hat_x_hat =
                    static_cast<float>(row_sum(D, [&](std::size_t k) { return dy[k] * gamma[k] * x_hat(k); }) / double(D));
                float* dx = r.grad_in(0).data() + n * D;
                for (std::size_t k = 0; k < D; ++k) dx[k] += rstd * (dy[k] * gamma[k] - mean_dx_hat - x_hat(k) * mean_dx_hat_x_hat);
            }
            if (r.needs_grad(1)) {
                float* dgamma = r.grad_in(1).data();
                for (std::size_t k = 0; k < D; ++k) dgamma[k] += dy[k] * x_hat(k);
            }
            if (r.needs_grad(2)) {
                float* dbeta = r.grad_in(2).data();
                for (std::size_t k = 0; k < D; ++k) dbeta[k] += dy[k];
            }
        }
    });
}

}  // namespace tg
