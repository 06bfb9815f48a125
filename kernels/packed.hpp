// A weight matrix packed for products with few rows: decoding's output layer.
//
// While decoding, the output layer multiplies a handful of rows (one per sentence, or per beam) by a
// weight of vocabulary x features: with 16,000 words, 32 rows against 28 MB of weights every step.
// BLAS is tuned for large products and re-packs the whole weight on every call, so a thin product runs
// at about half the machine's rate. Here the weight is packed once, into panels of 32 output columns
// laid out k-major (each panel is read as a stream of 128-byte rows), and the micro-kernel of
// kernels/gemm.cpp keeps a 12 x 32 tile of the output in registers while it walks a panel (the
// BLIS/GotoBLAS design). On a build without AVX-512 the weight stays as it is and OpenBLAS reads it.
// Pack once per decode; the packed copy does not follow later changes of the weight.
#pragma once
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "../autograd/variable.hpp"

namespace tg {

class PackedWeight {
public:
    PackedWeight() = default;
    explicit PackedWeight(const Tensor& weight);  // weight [out, in], nn.Linear's layout (copied)

    std::size_t out_features() const { return out_; }
    std::size_t in_features() const { return in_; }
    const float* data() const { return data_.data(); }

private:
    friend class PackedWeightsScope;
    PackedWeight(const Tensor& weight, bool transpose);  // transpose: W^T packed, for products x W
    std::size_t out_ = 0, in_ = 0;
    FloatBuffer data_;  // panels of 32 output columns, zero-padded (or the weight as is, see .cpp)
};

// y = x W^T (+ b) with a packed W, x [..., in] -> [..., out]: linear(x, W, b) for inference (the same
// numbers up to rounding). Records nothing; throws TapeError if gradients are enabled and x or b
// requires one.
Var linear(const Var& x, const PackedWeight& weight, const Var& bias = Var());

// Every weight of a model packed once while it decodes or takes a training step. While a scope is
// open on this thread, a product whose B operand is one of `weights` (W of linear's y = x W^T, of
// its backward's dx = dy W, of matmul's x W) reads a copy of W packed at its first use in that
// layout, instead of packing W again at every call as a BLAS does: the products of a recurrence or
// of a decoding step are thin (a few dozen rows), so packing W costs about as much as using it.
// Products with anything else (the tape's values, and W's own gradient dW = dy^T x) are untouched.
// The weights must not change while the scope is open: decoding holds the model const, and a
// training step closes its scope after backward, before the optimizer's update. Scopes nest; the
// innermost is read. Without kernels, or without our product (no AVX-512), it does nothing.
class PackedWeightsScope {
public:
    explicit PackedWeightsScope(std::span<Parameter* const> weights);
    ~PackedWeightsScope();
    PackedWeightsScope(const PackedWeightsScope&) = delete;
    PackedWeightsScope& operator=(const PackedWeightsScope&) = delete;

    // The packed copy of op(B) [k, n] when B, at `b`, is one of the scope's weights: B [n, k] read
    // transposed (`trans_b`, y = x W^T) or B [k, n] read as it is; packed now if this is its first use
    // in that layout; nullptr if `b` is not one of them (kernels/gemm.cpp asks, through
    // kernels::packed_operand).
    const PackedWeight* find(const float* b, bool trans_b, std::size_t n, std::size_t k);
    std::size_t packed() const;  // how many packed copies it holds so far (a weight used both ways: 2)

private:
    struct Entry {
        const Tensor* weight;
        std::optional<PackedWeight> as_rows, as_columns;  // for x W^T and for x W, each made at first use
        bool no_room;  // packing it ran out of memory: products read it unpacked
    };
    std::vector<Entry> entries_;
    PackedWeightsScope* previous_;
};

}  // namespace tg
