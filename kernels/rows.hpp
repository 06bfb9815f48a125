// What a decoder does with a row of logits, outside any tape: its log-sum-exp, its largest value, its
// k largest, once per word over a vocabulary of thousands. Not ops (nothing is recorded): helpers
// for decoders, in SIMD (kernels/rows.cpp), or in plain loops in a build without kernels
// (kernels/reference.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tg {

// log sum_i exp(row[i]) of plain floats, shifted by the maximum (never overflows): what a
// decoder needs to turn a row of logits into log-probabilities without recording anything.
float log_sum_exp(std::span<const float> row);
// The same when the row's largest value is known (a decoder's argmax or top_k has just found it): one
// pass over the row instead of two.
float log_sum_exp(std::span<const float> row, float largest);
// The index of the row's largest value, the first if it occurs more than once (std::max_element's
// answer): a greedy decoder's choice over a vocabulary of thousands. 0 for an empty row.
std::size_t argmax(std::span<const float> row);
// The k largest values of a row with their positions, largest first, equal values in order of position
// (torch.topk of one row, sorted; all n if k > n): a beam search's choice over a vocabulary of
// thousands. `out` is reused: no allocation once it has held k.
void top_k(std::span<const float> row, std::size_t k, std::vector<std::pair<float, std::int32_t>>& out);

}  // namespace tg
