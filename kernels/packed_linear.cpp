// linear() with a packed weight: the thin products of decoding (kernels/packed.hpp says why). The
// weight is packed here once, into the panels kernels/gemm.cpp's micro-kernel reads (its
// packed_product does the arithmetic), so a decoding step packs only its few rows of x.
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "autograd/error.hpp"
#include "autograd/op.hpp"
#include "kernels/kernels.hpp"
#include "kernels/packed.hpp"
#include "kernels/profile.hpp"

namespace tg {

namespace {

// Asks for transparent huge pages (2 MB) over a fresh buffer, before its first touch. Each first touch
// of a 4 KB page is a page fault, expensive on a virtual machine, and packing a large output weight
// touches thousands of them (docs/history.md has the measurement). Only here: on the tensors of a
// training step, huge pages made OpenBLAS slower, so the rest of the library keeps the allocator's pages.
void advise_huge_pages(void* p, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
    constexpr std::uintptr_t kPage = 4096;
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kPage - 1) / kPage * kPage;
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / kPage * kPage;
    if (bytes >= (std::size_t{4} << 20) && end > begin)
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint: failure is fine
#else
    (void)p, (void)bytes;
#endif
}

}  // namespace

PackedWeight::PackedWeight(const Tensor& weight) : PackedWeight(weight, false) {}

// W [out, in] as given, or (transpose) W^T: the weight of y = x W for W [in, out], whose element
// (o, i) is W[i, o].
PackedWeight::PackedWeight(const Tensor& weight, bool transpose) {
    if (weight.shape().rank() != 2)
        throw ShapeError(fmt::format("PackedWeight: weight {} is not [out, in]", weight.shape().str()));
    out_ = weight.shape()[transpose ? 1 : 0];
    in_ = weight.shape()[transpose ? 0 : 1];
    const float* w = weight.data();
    const std::size_t out_stride = transpose ? 1 : in_, in_stride = transpose ? out_ : 1;  // element (o, i) at w[o os + i is]
    if (!kernels::own_gemm_available()) {  // no micro-kernel to read panels: OpenBLAS reads [out, in] as it is
        data_.resize_discard(out_ * in_);
        for (std::size_t o = 0; o < out_; ++o)
            for (std::size_t i = 0; i < in_; ++i) data_[o * in_ + i] = w[o * out_stride + i * in_stride];
        return;
    }
    // Panel p holds output columns [C p, C p + C) as [in][C] (C = kernels::kPanel): its row k is
    // columns C p .. C p + C - 1 of the weight's row k of [in, out], two 64-byte cache lines (the
    // buffer is 64-byte aligned). Columns past the end are zeros. The same panels as the product packs
    // at each call (kernels/gemm.cpp's pack_b, whose 16 x 16 transposes read W's rows whole).
    constexpr std::size_t C = kernels::kPanel;
    data_.resize_discard((out_ + C - 1) / C * C * in_);
    advise_huge_pages(data_.data(), data_.size() * sizeof(float));
    kernels::pack_panels(w, !transpose, out_, in_, data_.data());
}

Var linear(const Var& x, const PackedWeight& weight, const Var& bias) {
    Op op = kernels::start_packed_linear(x, weight, bias);  // (checks that they fit)
    const std::size_t n_in = weight.in_features(), n_out = weight.out_features();
    const bool has_bias = bias.defined();
    const std::size_t rows = x.numel() / std::max<std::size_t>(n_in, 1);
    float* y = op.out().data();
    log_gemm({false, true, rows, n_out, n_in, has_bias ? 1.0f : 0.0f});
    for (std::size_t r = 0; r < rows; ++r) {  // start from the bias (or zero), then accumulate
        if (has_bias) std::copy_n(bias.value().data(), n_out, y + r * n_out);
        else std::fill_n(y + r * n_out, n_out, 0.0f);
    }
    kernels::packed_product(x.value().data(), rows, n_in, weight.data(), n_out, y);
    return op.finish([](Record&) { throw TapeError("linear (packed) has no backward"); });
}

namespace {
thread_local PackedWeightsScope* innermost_scope = nullptr;
}  // namespace

PackedWeightsScope::PackedWeightsScope(std::span<Parameter* const> weights) : previous_(innermost_scope) {
    entries_.reserve(weights.size());
    for (Parameter* p : weights)
        if (p->value().shape().rank() == 2) entries_.push_back({&p->value(), std::nullopt, std::nullopt, false});
    innermost_scope = this;
}

PackedWeightsScope::~PackedWeightsScope() { innermost_scope = previous_; }

const PackedWeight* PackedWeightsScope::find(const float* b, bool trans_b, std::size_t n, std::size_t k) {
    const Shape shape = trans_b ? Shape{n, k} : Shape{k, n};
    for (Entry& e : entries_) {
        if (e.weight->data() != b || !(e.weight->shape() == shape)) continue;
        if (e.no_room) return nullptr;
        std::optional<PackedWeight>& packed = trans_b ? e.as_rows : e.as_columns;
        if (!packed) {
            try {
                packed.emplace(PackedWeight(*e.weight, !trans_b));
            } catch (const OutOfMemory&) {  // a copy only to go faster: without room for it, products read W as it is
                e.no_room = true;
                return nullptr;
            }
        }
        return &*packed;
    }
    return nullptr;
}

std::size_t PackedWeightsScope::packed() const {
    std::size_t n = 0;
    for (const Entry& e : entries_) n += e.as_rows.has_value() + e.as_columns.has_value();
    return n;
}

const float* kernels::packed_operand(const float* b, bool trans_b, std::size_t n, std::size_t k) {
    if (innermost_scope == nullptr || !kernels::own_gemm_available()) return nullptr;
    const PackedWeight* packed = innermost_scope->find(b, trans_b, n, k);
    return packed ? packed->data() : nullptr;
}

}  // namespace tg
