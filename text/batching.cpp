#include "text/batching.hpp"

#include <algorithm>
#include <numeric>

#include "text/vocab.hpp"

namespace tg::text {

std::vector<EncodedPair> encode_pairs(std::span<const SentencePair> pairs, const Vocab& src, const Vocab& tgt) {
    std::vector<EncodedPair> out;
    out.reserve(pairs.size());
    for (const SentencePair& p : pairs) out.push_back({src.encode(p.source, true), tgt.encode(p.target, false)});
    return out;
}

Batch make_batch(std::span<const EncodedPair> data, std::span<const std::size_t> which) {
    Batch b;
    b.size = which.size();
    for (std::size_t i : which) {
        b.src_len = std::max(b.src_len, data[i].source.size());
        b.tgt_len = std::max(b.tgt_len, data[i].target.size() + 1);
    }
    b.source.assign(b.size * b.src_len, Vocab::kPad);
    b.decoder_input.assign(b.size * b.tgt_len, Vocab::kPad);
    b.decoder_target.assign(b.size * b.tgt_len, Vocab::kPad);
    for (std::size_t k = 0; k < b.size; ++k) {
        const EncodedPair& p = data[which[k]];
        std::copy(p.source.begin(), p.source.end(), b.source.begin() + static_cast<std::ptrdiff_t>(k * b.src_len));
        b.source_lengths.push_back(static_cast<int>(p.source.size()));
        std::int32_t* in = b.decoder_input.data() + k * b.tgt_len;
        std::int32_t* out = b.decoder_target.data() + k * b.tgt_len;
        in[0] = Vocab::kBos;
        for (std::size_t t = 0; t < p.target.size(); ++t) in[t + 1] = out[t] = p.target[t];
        out[p.target.size()] = Vocab::kEos;
        b.target_tokens += p.target.size() + 1;
        b.index.push_back(which[k]);
    }
    return b;
}

std::size_t padded_tokens(std::span<const EncodedPair> data, std::span<const std::size_t> which) {
    std::size_t s = 0, t = 0;
    for (std::size_t i : which) s = std::max(s, data[i].source.size()), t = std::max(t, data[i].target.size() + 1);
    return which.size() * (s + t);
}

std::vector<std::vector<std::size_t>> plan_batches(std::span<const EncodedPair> data, std::size_t batch_size,
                                                   Generator* shuffle, std::size_t max_tokens) {
    std::vector<std::size_t> order(data.size());
    std::iota(order.begin(), order.end(), 0);
    auto shuffled = [&](auto& v) {  // Fisher-Yates from our generator: the same on every platform
        for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[shuffle->next_u64() % i]);
    };
    if (shuffle) shuffled(order);
    // Sort by length (stable, so ties keep the shuffled order), cut into batches, shuffle those.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::pair(data[a].source.size(), data[a].target.size()) < std::pair(data[b].source.size(), data[b].target.size());
    });
    std::vector<std::vector<std::size_t>> batches;
    if (max_tokens == 0) {
        for (std::size_t start = 0; start < order.size(); start += batch_size)
            batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                                 order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + batch_size)));
    } else {
        for (std::size_t i : order) {  // a new batch when this pair would make the current one too big
            if (batches.empty() || batches.back().size() == batch_size) batches.emplace_back();
            batches.back().push_back(i);
            if (batches.back().size() > 1 && padded_tokens(data, batches.back()) > max_tokens) {
                batches.back().pop_back();
                batches.push_back({i});
            }
        }
    }
    if (shuffle) shuffled(batches);
    return batches;
}

}  // namespace tg::text
