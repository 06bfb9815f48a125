// Search, from its definition (the paper's Section 3, "decoding"; Sutskever et al. 2014, Section 3.2):
// one sentence and one hypothesis at a time, each hypothesis taking its own decoding step. This is
// what greedy() and beam_search() of decode.hpp compute; they are the fast forms (a batch of
// sentences, K hypotheses a sentence in one step, finished sentences dropped, a history tree instead
// of copies), tested equal to these in tests/test_translator.cpp, n-best lists and attention included,
// as the kernels are tested against the reference engine.
#pragma once
#include <cstdint>
#include <vector>

#include "decode.hpp"

namespace translator {

// Greedy decoding: at each step the most probable word, until </s> or the length limit.
Translation greedy_reference(const TranslationModel& model, const std::vector<std::int32_t>& source,
                             const DecodeOptions& options = {});

// Beam search of width K: every live hypothesis extended by every word, the K best continuations kept;
// one ending in </s> is finished. It stops when K are finished, none is live, or at the length limit
// (the live ones then count as finished, cut). The n best by options.length_penalty's ranking.
std::vector<Translation> beam_search_reference(const TranslationModel& model, const std::vector<std::int32_t>& source,
                                               std::size_t K, std::size_t n_best, const DecodeOptions& options = {});

}  // namespace translator
