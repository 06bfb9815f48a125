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
    std::size_t out_ = 0, in_ = 0;
    FloatBuffer data_;  // panels of 32 output columns, zero-padded (or the weight as is, see .cpp)
};

// y = x W^T (+ b) with a packed W, x [..., in] -> [..., out]: linear(x, W, b) for inference (the same
// numbers up to rounding). Records nothing; throws TapeError if gradients are enabled and x or b
// requires one.
Var linear(const Var& x, const PackedWeight& weight, const Var& bias = Var());

// Every weight of a model packed once while it decodes. While a scope is open on this thread, a
// product without gradients whose weight operand (W of y = x W^T: linear's) is one of `weights`
// reads a copy packed at its first use, instead of packing W again at every call as a BLAS does: the
// products of a decoding step are thin (a few dozen rows), so packing W costs about as much as using
// it. Products with anything else (the tape's values) are untouched. The weights must not
// change while the scope is open (decoding holds the model const). Scopes nest; the innermost is read.
// Without kernels, or without our product (no AVX-512), it does nothing.
class PackedWeightsScope {
public:
    explicit PackedWeightsScope(std::span<Parameter* const> weights);
    ~PackedWeightsScope();
    PackedWeightsScope(const PackedWeightsScope&) = delete;
    PackedWeightsScope& operator=(const PackedWeightsScope&) = delete;

    // The packed copy of the weight at `w` ([n, k]), packed now if this is its first use; nullptr if
    // `w` is not one of the scope's weights (kernels/gemm.cpp asks, through kernels::packed_weight_for).
    const PackedWeight* find(const float* w, std::size_t n, std::size_t k);
    std::size_t packed() const;  // how many of its weights have been packed so far

private:
    struct Entry {
        const Tensor* weight;
        std::optional<PackedWeight> packed;  // made at first use
    };
    std::vector<Entry> entries_;
    PackedWeightsScope* previous_;
};

}  // namespace tg
