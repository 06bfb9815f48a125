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

}  // namespace tg
