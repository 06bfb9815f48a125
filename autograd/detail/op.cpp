// The Op builder (autograd/op.hpp) and the built-in ops' shared helpers (autograd/detail/op.hpp).
#include "autograd/detail/op.hpp"

#include <fmt/format.h>

#include <string>

namespace tg {

namespace detail {

AxisSplit split_at(const Shape& s, int axis) {
    AxisSplit a;
    for (int i = 0; i < s.rank(); ++i) {
        if (i < axis) a.outer *= s[i];
        else if (i == axis) a.n = s[i];
        else a.inner *= s[i];
    }
    return a;
}

}  // namespace detail

Op::Op(const char* name, std::span<const Var> inputs, const Shape& out_shape)
    : name_(name), tape_(active_tape()), start_(tape_.mark()) {
    bool any_requires_grad = false;
    for (const Var& v : inputs) {
        Node& n = v.node();  // throws on a stale or empty Var
        if (n.tape != nullptr && n.tape != &tape_)
            throw TapeError(fmt::format("{}: an input was recorded on a different tape than the active one", name));
        any_requires_grad = any_requires_grad || n.requires_grad;
    }
    out_ = &tape_.new_value(out_shape);
    if (!grad_enabled() || !any_requires_grad) return;  // nothing to differentiate: record nothing
    out_->requires_grad = true;
    out_->record = static_cast<int>(tape_.num_records());
    rec_ = &tape_.new_record();
    rec_->op = name;
    rec_->output = out_;
    for (const Var& v : inputs) rec_->inputs.push_back(&v.node());
}

Op::~Op() {
    if (!finished_) tape_.rewind(start_);  // an exception between the constructor and finish()
}

FloatBuffer& Op::saved() {
    thread_local FloatBuffer scratch_floats;
    if (rec_) return rec_->saved;
    scratch_floats.resize_discard(0);
    return scratch_floats;
}

IndexBuffer& Op::saved_ids() {
    thread_local IndexBuffer scratch_ids;
    if (rec_) return rec_->saved_ids;
    scratch_ids.resize_discard(0);
    return scratch_ids;
}

Var Op::finish(BackwardFn backward) {
    if (rec_) rec_->backward = backward;
    if (anomaly_mode() && !all_finite(out_->value)) {
        const std::string where = rec_ ? fmt::format(", record #{}", out_->record) : "";
        throw AnomalyError(fmt::format("anomaly: forward of '{}' produced NaN or Inf (output shape {}{})", name_,
                                       out_->value.shape().str(), where));
    }
    finished_ = true;
    return Var(out_);
}

namespace detail {

Tensor& scratch(const Shape& s) {
    thread_local Tensor t;
    t.resize(s);
    return t;
}

Strides broadcast_strides(const Shape& in, const Shape& out) {
    Strides st{};
    const int offset = out.rank() - in.rank();
    std::size_t step = 1;
    for (int a = out.rank() - 1; a >= offset; --a) {
        const std::size_t d = in[a - offset];
        st[static_cast<std::size_t>(a)] = d == 1 && out[a] != 1 ? 0 : step;
        step *= d;
    }
    return st;
}

Strides permuted_strides(const Shape& in, std::span<const int> axes) {
    Strides contiguous{}, st{};
    std::size_t step = 1;
    for (int a = in.rank() - 1; a >= 0; --a) {
        contiguous[static_cast<std::size_t>(a)] = step;
        step *= in[a];
    }
    for (std::size_t i = 0; i < axes.size(); ++i) st[i] = contiguous[static_cast<std::size_t>(axes[i])];
    return st;
}

void sum_to(const Tensor& g, Tensor& into) {
    // Walk g in order; each element lands in `into` at the index with broadcast axes pinned to 0.
    const float* src = g.data();
    float* dst = into.data();
    for_each_row(g.shape(), broadcast_strides(into.shape(), g.shape()), [&](std::size_t o, std::size_t t, std::size_t n, std::size_t step) {
        if (step == 0) {
            float acc = 0.0f;
            for (std::size_t k = 0; k < n; ++k) acc += src[o + k];
            dst[t] += acc;
        } else {
            for (std::size_t k = 0; k < n; ++k) dst[t + k] += src[o + k];
        }
    });
}

}  // namespace detail
}  // namespace tg
