// Inverted dropout (Srivastava et al. 2014, as PyTorch's F.dropout): each element is kept with
// probability 1 - p and scaled by 1 / (1 - p), so the expected value is unchanged; the rest are 0.
//     y = x * m        dx += dy * m,   m = 1/(1-p) or 0, drawn once in the forward and kept
// One op instead of a mask made as a constant and multiplied in: the mask is drawn straight into the
// record (no copy onto the tape), and from 32 random bits per element, two per call of the generator,
// rather than through a floating-point distribution (a cost noticeable in a training step).
#include <fmt/format.h>

#include <cstdint>

#include "autograd/detail/op.hpp"
#include "autograd/random.hpp"

namespace tg {
using namespace detail;

Var dropout(const Var& x, float p, Generator& gen) {
    if (!(p >= 0.0f && p < 1.0f)) throw Error(fmt::format("dropout: p = {} is outside [0, 1)", p));
    if (p == 0.0f) return x;
    Op op("dropout", {x}, x.shape());
    const std::size_t n = x.numel();
    FloatBuffer& mask = op.saved();  // the scale of each element, for backward
    mask.resize_discard(n);
    // Kept when 32 uniform bits fall below (1 - p) 2^32: probability 1 - p to within 2^-32.
    const auto threshold = static_cast<std::uint64_t>(static_cast<double>(1.0f - p) * 4294967296.0);
    const float scale = 1.0f / (1.0f - p);
    auto keep = [&](std::uint64_t bits32) { return bits32 < threshold ? scale : 0.0f; };
    std::size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const std::uint64_t bits = gen.next_u64();
        mask[i] = keep(bits & 0xffffffffu), mask[i + 1] = keep(bits >> 32);
    }
    if (i < n) mask[i] = keep(gen.next_u64() & 0xffffffffu);
    const float* in = x.value().data();
    float* out = op.out().data();
    for (std::size_t k = 0; k < n; ++k) out[k] = in[k] * mask[k];
    return op.finish([](Record& r) {
        const float *g = r.grad_out().data(), *mask = r.saved.data();
        float* dx = r.grad_in(0).data();
        for (std::size_t k = 0; k < r.saved.size(); ++k) dx[k] += g[k] * mask[k];
    });
}

}  // namespace tg
