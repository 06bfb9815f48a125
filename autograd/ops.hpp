// Every differentiable op of tapegrad. Each computes its value now and, when gradients are enabled
// and an input wants one, appends one record to the active tape. Implementations sit in
// autograd/ops/*.cpp, each op's forward next to its backward.
//
// Conventions: binary elementwise ops broadcast like NumPy; an `axis` may be negative (-1 = last);
// a shape mismatch throws ShapeError naming the op and every shape; a bad index throws IndexError.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <span>
#include <utility>
#include <vector>

#include "variable.hpp"

namespace tg {

class Generator;

// --- elementwise, broadcasting (ops/elementwise.cpp) ---
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var neg(const Var& a);
Var add_scalar(const Var& a, float s);   // a + s
Var mul_scalar(const Var& a, float s);   // a * s
Var rsub_scalar(const Var& a, float s);  // s - a   (as in 1 - z of the GRU)

inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator-(const Var& a) { return neg(a); }
inline Var operator+(const Var& a, float s) { return add_scalar(a, s); }
inline Var operator+(float s, const Var& a) { return add_scalar(a, s); }
inline Var operator-(const Var& a, float s) { return add_scalar(a, -s); }
inline Var operator-(float s, const Var& a) { return rsub_scalar(a, s); }
inline Var operator*(const Var& a, float s) { return mul_scalar(a, s); }
inline Var operator*(float s, const Var& a) { return mul_scalar(a, s); }
inline Var operator/(const Var& a, float s) { return mul_scalar(a, 1.0f / s); }

// --- elementwise functions (ops/unary.cpp) ---
Var exp(const Var& x);
Var log(const Var& x);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
Var relu(const Var& x);

// --- regularisation (ops/dropout.cpp) ---
// Inverted dropout, PyTorch's F.dropout in training: each element kept with probability 1 - p and
// scaled by 1 / (1 - p), else 0, drawn from `gen`; backward passes the gradient through the same
// mask. p in [0, 1) (0: x itself). Whether to drop at all (training or not) is the caller's choice.
Var dropout(const Var& x, float p, Generator& gen);

// --- matrix product through BLAS (ops/matmul.cpp) ---
// [M,K] @ [K,N] -> [M,N];  [B,M,K] @ [B,K,N] -> [B,M,N] (batched, over any number of leading axes:
// [B,H,M,K] @ [B,H,K,N] -> [B,H,M,N]);  [B,M,K] @ [K,N] -> [B,M,N].
Var matmul(const Var& a, const Var& b);
// x W^T + b, PyTorch's functional linear: x [..., in], weight [out, in], bias [out] (or an undefined
// Var for none) -> [..., out]. The same as matmul(x, transpose(weight)) + bias, fused: BLAS reads
// the weight transposed in place instead of a copy being made at every call.
Var linear(const Var& x, const Var& weight, const Var& bias = Var());

// --- moving data around (ops/shape.cpp) ---
Var reshape(const Var& x, const Shape& shape);                 // same number of elements
Var permute(const Var& x, std::span<const int> axes);          // output axis i = input axis axes[i]
inline Var permute(const Var& x, std::initializer_list<int> axes) {
    return permute(x, std::span<const int>(axes.begin(), axes.size()));
}
Var transpose(const Var& x, int axis0 = -2, int axis1 = -1);  // swaps two axes
Var slice(const Var& x, int axis, std::size_t start, std::size_t end);  // [start, end) along axis
Var select(const Var& x, int axis, std::size_t index);        // one position; the axis disappears
Var concat(std::span<const Var> xs, int axis);
Var stack(std::span<const Var> xs, int axis);                 // a new axis
inline Var concat(std::initializer_list<Var> xs, int axis) {
    return concat(std::span<const Var>(xs.begin(), xs.size()), axis);
}
inline Var stack(std::initializer_list<Var> xs, int axis) {
    return stack(std::span<const Var>(xs.begin(), xs.size()), axis);
}
// Cuts x along axis into pieces of the given sizes (which must add up to its length): one slice each.
std::vector<Var> split(const Var& x, int axis, std::span<const std::size_t> sizes);
inline std::vector<Var> split(const Var& x, int axis, std::initializer_list<std::size_t> sizes) {
    return split(x, axis, std::span<const std::size_t>(sizes.begin(), sizes.size()));
}

// --- reductions (ops/reduce.cpp) ---
Var sum(const Var& x);                                       // all elements -> scalar
Var sum(const Var& x, int axis, bool keepdims = false);
Var mean(const Var& x);
Var mean(const Var& x, int axis, bool keepdims = false);
Var max(const Var& x, int axis, bool keepdims = false);     // gradient goes to the first maximum

// --- normalisation and loss (ops/softmax.cpp) ---
// softmax and log_softmax are computed stably (shifted by the maximum). With `valid`, broadcastable
// to x, positions where valid == 0 take no part: their weight is exactly 0 (log-weight -inf); a
// slice with no valid position gets all-zero weights rather than NaN.
Var softmax(const Var& x, int axis);
Var softmax(const Var& x, int axis, const Var& valid);
Var log_softmax(const Var& x, int axis);
Var log_softmax(const Var& x, int axis, const Var& valid);
// logits [N, C], targets N class ids: mean over the targets != ignore_index of -log softmax[target]
// (0 when every target is ignored). With label_smoothing e in [0, 1], PyTorch's: the target is
// (1 - e) one-hot + e uniform over the C classes, so a row's loss is
// (1 - e) (-log p[target]) + e mean_c (-log p[c]).
Var cross_entropy(const Var& logits, std::span<const std::int32_t> targets,
                  std::int32_t ignore_index = -100, float label_smoothing = 0.0f);

// Layer normalisation over the last axis, torch's F.layer_norm: x [..., D], gamma and beta [D];
// y = gamma * (x - mean) / sqrt(var + eps) + beta, the mean and (biased) variance over each row's D.
// (ops/layer_norm.cpp)
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps = 1e-5f);

// --- indexing and selection (ops/index.cpp) ---
// Rows of weight [V, E] picked by ids: output shape ids_shape + [E]. Backward scatter-adds, so an id
// that appears twice gets both gradients; the row `padding_idx` (if >= 0) never gets a gradient.
Var embedding(const Var& weight, std::span<const std::int32_t> ids, const Shape& ids_shape,
              std::int32_t padding_idx = -1);
inline Var embedding(const Var& weight, std::span<const std::int32_t> ids) {
    return embedding(weight, ids, Shape{ids.size()});
}
// The slices of x at positions ids along `axis`, in that order (torch.index_select): the axis
// becomes ids.size() long. Backward scatter-adds, so an index taken twice gets both gradients.
Var index_select(const Var& x, int axis, std::span<const std::int32_t> ids);
// Elementwise choice, broadcasting all three: cond != 0 ? a : b. No gradient flows into cond.
Var where(const Var& cond, const Var& a, const Var& b);
// x where mask == 0, `value` where mask != 0 (PyTorch's masked_fill).
Var masked_fill(const Var& x, const Var& mask, float value);

}  // namespace tg
