// Linear's weight gradients, summed at the end of the backward sweep when threads can share them.
//
// A weight used at every step of a recurrence (a GRU's W_h, the decoder's input weight, attention's
// query weight) gets one gradient product per step, dW += dy_t^T x_t, each over the batch's few rows.
// OpenBLAS runs such thin products no faster on two threads than on one, while their sum, one product
// over all the steps' rows, it shares between them. So with more than one thread linear's backward
// hands a Parameter's thin pieces here, and when the sweep ends each weight's are gathered into two
// blocks and summed in one product. (On one thread the gathering would only add copies.)
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "autograd/tape.hpp"
#include "kernels/kernels.hpp"
#include "kernels/threads.hpp"

namespace tg::kernels {

namespace {

struct WeightGradPiece {
    Node* weight;     // a Parameter: its gradient exists, to add into
    const float* x;   // [rows, in]: the forward's input, alive until the tape is released
    const float* dy;  // [rows, out]: the output's gradient, complete once its record has run
    std::size_t rows;
};
constexpr std::size_t kThinRows = 128;  // fewer rows than this: deferred
thread_local std::vector<WeightGradPiece> pending;  // this thread's sweep's pieces

// Anomaly mode checks each record's gradients as it runs; these arrive after the sweep, so here.
void check_finite(const Node& w) {
    if (!all_finite(w.grad))
        throw AnomalyError(fmt::format("anomaly: backward of 'linear' produced NaN or Inf in the gradient of the "
                                       "weight {} (shape {}), summed over its steps at the end of the sweep",
                                       w.name.empty() ? "(unnamed)" : w.name, w.value.shape().str()));
}

void sum_pending(bool completed) {  // Tape::at_sweep_end
    struct Forget {  // whatever happens, none of these pieces outlives this sweep
        std::vector<WeightGradPiece>& p;
        ~Forget() { p.clear(); }
    } forget{pending};
    thread_local std::vector<float> xs, dys;  // the gathered rows, kept for the next sweep: no allocation per step
    for (std::size_t i = 0; completed && i < pending.size(); ++i) {
        Node* w = pending[i].weight;
        if (w == nullptr) continue;  // summed with an earlier piece of its weight
        const std::size_t n_out = w->value.shape()[0], n_in = w->value.shape()[1];
        std::size_t rows = 0;
        for (std::size_t j = i; j < pending.size(); ++j) rows += pending[j].weight == w ? pending[j].rows : 0;
        if (rows == pending[i].rows) {  // used once (not in a recurrence): its product as it is, no gathering
            gemm(pending[i].dy, true, n_out, pending[i].x, false, n_in, w->grad.data(), n_in, n_out, n_in, rows, 1.0f);
            if (anomaly_mode()) check_finite(*w);
            continue;
        }
        xs.resize(rows * n_in);
        dys.resize(rows * n_out);
        std::size_t at = 0;
        for (std::size_t j = i; j < pending.size(); ++j) {
            if (pending[j].weight != w) continue;
            std::copy_n(pending[j].x, pending[j].rows * n_in, xs.data() + at * n_in);
            std::copy_n(pending[j].dy, pending[j].rows * n_out, dys.data() + at * n_out);
            at += pending[j].rows;
            pending[j].weight = nullptr;
        }
        gemm(dys.data(), true, n_out, xs.data(), false, n_in, w->grad.data(), n_in, n_out, n_in, rows, 1.0f);  // dW += DY^T X
        if (anomaly_mode()) check_finite(*w);
    }
}

}  // namespace

bool defer_weight_grad(Node& weight, const float* x, const float* dy, std::size_t rows, Tape& tape) {
    if (weight.tape != nullptr || rows >= kThinRows || num_threads() == 1) return false;
    if (!weight.has_grad) {  // the gradient it is summed into, zero until the sweep ends
        weight.grad.resize(weight.value.shape());
        weight.grad.fill(0.0f);
        weight.has_grad = true;
    }
    pending.push_back({&weight, x, dy, rows});
    tape.at_sweep_end(sum_pending);
    return true;
}

}  // namespace tg::kernels
