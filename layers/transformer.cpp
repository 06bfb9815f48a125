#include "layers/transformer.hpp"

#include <fmt/format.h>

#include <cmath>

#include "autograd/ops.hpp"

namespace tg {

namespace {

void check_sizes(const TransformerSizes& s, const char* layer) {
    if (s.model == 0 || s.ff == 0 || s.heads == 0 || s.model % s.heads != 0)
        throw Error(fmt::format("{}: {} heads must divide the model size {} (feed-forward {})", layer, s.heads, s.model, s.ff));
}

AttentionPtr multi_head(const TransformerSizes& s, Generator& gen) {
    return make_attention("multi_head", {s.model, s.model, 0, s.heads}, gen);
}

Var dropped(const Dropout& dropout, const Var& x, Generator* stream) { return stream ? dropout.forward(x, *stream) : x; }

}  // namespace

Tensor sinusoidal_positions(std::size_t first, std::size_t count, std::size_t d) {
    Tensor pe({count, d});
    for (std::size_t p = 0; p < count; ++p)
        for (std::size_t i = 0; i < d; ++i) {
            const double angle = static_cast<double>(first + p) / std::pow(10000.0, static_cast<double>(i - i % 2) / static_cast<double>(d));
            pe.at({p, i}) = static_cast<float>(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
        }
    return pe;
}

Tensor causal_mask(std::size_t batch, std::size_t length) {
    Tensor m({batch, length, length});
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t i = 0; i < length; ++i)
            for (std::size_t j = 0; j <= i; ++j) m.at({b, i, j}) = 1.0f;
    return m;
}

FeedForward::FeedForward(std::size_t model, std::size_t inner, Generator& gen)
    : linear1(model, inner, gen), linear2(inner, model, gen) {
    register_module("linear1", linear1);
    register_module("linear2", linear2);
}

Var FeedForward::forward(const Var& x, const Dropout& dropout, Generator* dropout_stream) const {
    return linear2.forward(dropped(dropout, relu(linear1.forward(x)), dropout_stream));  // Eq. 2
}

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerSizes& s, Generator& gen)
    : sizes((check_sizes(s, "TransformerEncoderLayer"), s)), self_attn(multi_head(s, gen)), ff(s.model, s.ff, gen),
      norm1(s.model), norm2(s.model) {
    register_module("self_attn", *self_attn);
    register_module("ff", ff);
    register_module("norm1", norm1);
    register_module("norm2", norm2);
    register_module("dropout", dropout);
}

// <doc:encoder-layer>
Var TransformerEncoderLayer::forward(const Var& x, const Var& valid, Generator* dropout_stream) const {
    const Shape& s = x.shape();
    if (s.rank() != 3 || s[2] != sizes.model)
        throw ShapeError(fmt::format("TransformerEncoderLayer: input {} must be [B, S, {}]", s.str(), sizes.model));
    const std::size_t B = s[0], S = s[1], D = s[2];
    auto self_attention = [&](const Var& h) {  // every position asks every real position of its sentence
        const Var a = self_attn->forward(self_attn->precompute(h, valid), reshape(h, {B * S, D})).context;
        return dropped(dropout, reshape(a, {B, S, D}), dropout_stream);
    };
    auto feed_forward = [&](const Var& h) { return dropped(dropout, ff.forward(h, dropout, dropout_stream), dropout_stream); };
    if (sizes.pre_norm) {
        const Var y = x + self_attention(norm1.forward(x));
        return y + feed_forward(norm2.forward(y));
    }
    const Var y = norm1.forward(x + self_attention(x));
    return norm2.forward(y + feed_forward(y));
}
// </doc:encoder-layer>

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerSizes& s, Generator& gen)
    : sizes((check_sizes(s, "TransformerDecoderLayer"), s)), self_attn(multi_head(s, gen)), cross_attn(multi_head(s, gen)),
      ff(s.model, s.ff, gen), norm1(s.model), norm2(s.model), norm3(s.model) {
    register_module("self_attn", *self_attn);
    register_module("cross_attn", *cross_attn);
    register_module("ff", ff);
    register_module("norm1", norm1);
    register_module("norm2", norm2);
    register_module("norm3", norm3);
    register_module("dropout", dropout);
}

// <doc:decoder-layer>
TransformerDecoderLayer::Output TransformerDecoderLayer::forward(const Var& x, const Var& self_mask,
                                                                 const Attention::Memory* past,
                                                                 const Attention::Memory& memory,
                                                                 Generator* dropout_stream) const {
    const Shape& s = x.shape();
    if (s.rank() != 3 || s[2] != sizes.model)
        throw ShapeError(fmt::format("TransformerDecoderLayer: input {} must be [B, T, {}]", s.str(), sizes.model));
    const std::size_t B = s[0], T = s[1], D = s[2];
    Output out;
    auto self_attention = [&](const Var& h) {  // query i reads the words up to i: the mask, or only the past
        const Attention::Memory now = self_attn->precompute(h, self_mask);
        out.self_memory = past ? self_attn->append(*past, now) : now;
        const Var a = self_attn->forward(out.self_memory, reshape(h, {B * T, D})).context;
        return dropped(dropout, reshape(a, {B, T, D}), dropout_stream);
    };
    auto cross_attention = [&](const Var& h) {  // each word asks the source sentence (T queries a sentence)
        const Attention::Result r = cross_attn->forward(memory, reshape(h, {B * T, D}));
        out.cross_weights = r.head_weights;
        return dropped(dropout, reshape(r.context, {B, T, D}), dropout_stream);
    };
    auto feed_forward = [&](const Var& h) { return dropped(dropout, ff.forward(h, dropout, dropout_stream), dropout_stream); };
    if (sizes.pre_norm) {
        Var y = x + self_attention(norm1.forward(x));
        y = y + cross_attention(norm2.forward(y));
        out.y = y + feed_forward(norm3.forward(y));
    } else {
        Var y = norm1.forward(x + self_attention(x));
        y = norm2.forward(y + cross_attention(y));
        out.y = norm3.forward(y + feed_forward(y));
    }
    return out;
}
// </doc:decoder-layer>

}  // namespace tg
