// The Transformer's pieces: layer_norm (gradcheck and PyTorch), the encoder and decoder layers against
// torch.nn.TransformerEncoderLayer / TransformerDecoderLayer (post-norm and pre-norm: values and every
// gradient), and decoding with the self-attention's keys and values cached, a word at a time, giving
// what teacher forcing gives.
#include "helpers.hpp"
#include "tapegrad.hpp"

using namespace tg;
using tg::test::fixture;
using tg::test::rand;
using Vars = std::span<const Var>;

namespace {

// Our parameter names are the fixture's file names (make_fixtures.py transformer() renames PyTorch's).
void load(Module& m, const std::string& fixture_case) {
    for (const auto& [name, p] : m.named_parameters()) {
        const Tensor v = fixture(fixture_case, name);
        REQUIRE(p->shape() == v.shape());
        p->value() = v;
    }
}

void check_parameter_grads(const Module& m, const std::string& fixture_case) {
    for (const auto& [name, p] : m.named_parameters()) {
        CAPTURE(name);
        CHECK_CLOSE(p->grad(), fixture(fixture_case, "grad_" + name), 1e-5f, 1e-5f);
    }
}

}  // namespace

TEST_CASE("layer_norm: gradients, and values and gradients against torch.nn.functional.layer_norm") {
    CHECK_GRADS([](Vars v) { return layer_norm(v[0], v[1], v[2]); }, {rand({3, 5}, 1), rand({5}, 2), rand({5}, 3)});
    CHECK_GRADS([](Vars v) { return layer_norm(v[0] * 3.0f + 2.0f, v[1], v[2], 1e-3f); },
                {rand({2, 3, 4}, 4), rand({4}, 5), rand({4}, 6)});

    Parameter x(fixture("layer_norm", "x")), gamma(fixture("layer_norm", "gamma")), beta(fixture("layer_norm", "beta"));
    Var y = layer_norm(x * 2.0f + 1.0f, gamma, beta);
    CHECK_CLOSE(y.value(), fixture("layer_norm", "y"));
    sum(y * constant(fixture("layer_norm", "wy"))).backward();
    CHECK_CLOSE(x.grad(), fixture("layer_norm", "grad_x"), 1e-5f, 1e-5f);
    CHECK_CLOSE(gamma.grad(), fixture("layer_norm", "grad_gamma"), 1e-5f, 1e-5f);
    CHECK_CLOSE(beta.grad(), fixture("layer_norm", "grad_beta"), 1e-5f, 1e-5f);
    active_tape().clear();

    // A row's output has mean beta-free 0 and variance 1 before gamma and beta: checked by hand.
    const Tensor row = layer_norm(constant(Tensor({1, 4}, {1.0f, 2.0f, 3.0f, 6.0f})), constant(Tensor::ones({4})),
                                  constant(Tensor::zeros({4})), 1e-12f).value();
    const float sd = std::sqrt((4.0f + 1.0f + 0.0f + 9.0f) / 4.0f);  // mean 3
    for (std::size_t k = 0; k < 4; ++k) CHECK(row.data()[k] == doctest::Approx((std::vector<float>{-2, -1, 0, 3}[k]) / sd).epsilon(1e-6));
    CHECK_THROWS_AS(layer_norm(constant(Tensor(Shape{2, 3})), constant(Tensor(Shape{4})), constant(Tensor(Shape{3}))), ShapeError);
    active_tape().clear();
}

TEST_CASE("TransformerEncoderLayer matches torch.nn.TransformerEncoderLayer, post-norm and pre-norm") {
    for (const bool pre_norm : {false, true}) {
        const std::string c = pre_norm ? "transformer_encoder_layer_pre_norm" : "transformer_encoder_layer";
        CAPTURE(c);
        Generator gen(1);
        TransformerEncoderLayer layer({8, 2, 16, pre_norm}, gen);
        load(layer, c);
        Parameter x(fixture(c, "x"));
        Var y = layer.forward(x, constant(fixture(c, "valid")));
        CHECK_CLOSE(y.value(), fixture(c, "y"), 1e-5f, 1e-5f);
        sum(y * constant(fixture(c, "w"))).backward();
        CHECK_CLOSE(x.grad(), fixture(c, "grad_x"), 1e-5f, 1e-5f);
        check_parameter_grads(layer, c);
        active_tape().clear();
    }
}

TEST_CASE("TransformerDecoderLayer matches torch.nn.TransformerDecoderLayer, post-norm and pre-norm") {
    for (const bool pre_norm : {false, true}) {
        const std::string c = pre_norm ? "transformer_decoder_layer_pre_norm" : "transformer_decoder_layer";
        CAPTURE(c);
        Generator gen(1);
        TransformerDecoderLayer layer({8, 2, 16, pre_norm}, gen);
        load(layer, c);
        Parameter x(fixture(c, "x")), memory(fixture(c, "memory"));
        const Attention::Memory cross = layer.cross_attn->precompute(memory, constant(fixture(c, "valid")));
        auto out = layer.forward(x, constant(causal_mask(2, 4)), nullptr, cross);
        CHECK_CLOSE(out.y.value(), fixture(c, "y"), 1e-5f, 1e-5f);
        CHECK(out.cross_weights.shape() == Shape{2, 2, 4, 5});  // [B, heads, T, S]
        sum(out.y * constant(fixture(c, "w"))).backward();
        CHECK_CLOSE(x.grad(), fixture(c, "grad_x"), 1e-5f, 1e-5f);
        CHECK_CLOSE(memory.grad(), fixture(c, "grad_memory"), 1e-5f, 1e-5f);
        check_parameter_grads(layer, c);
        active_tape().clear();
    }
}

TEST_CASE("TransformerDecoderLayer, a word at a time with cached keys and values, gives teacher forcing's outputs") {
    for (const bool pre_norm : {false, true}) {
        CAPTURE(pre_norm);
        Generator gen(3);
        TransformerDecoderLayer layer({8, 2, 16, pre_norm}, gen);
        const std::size_t B = 2, T = 4, S = 5, D = 8;
        const Tensor x = rand({B, T, D}, 11), memory = rand({B, S, D}, 12);
        Tensor valid = Tensor::ones({B, S});
        valid.at({1, 4}) = 0.0f;
        InferenceMode inference;
        const Attention::Memory cross = layer.cross_attn->precompute(constant(memory), constant(valid));
        const Tensor all = layer.forward(constant(x), constant(causal_mask(B, T)), nullptr, cross).y.value();
        Attention::Memory past;
        for (std::size_t i = 0; i < T; ++i) {
            auto step = layer.forward(slice(constant(x), 1, i, i + 1), constant(Tensor::ones({B, 1})), i ? &past : nullptr, cross);
            past = step.self_memory;
            CHECK(past.valid.shape() == Shape{B, i + 1});
            CHECK_CLOSE(step.y.value(), slice(constant(all), 1, i, i + 1).value(), 1e-5f, 1e-6f);
        }
    }
}

TEST_CASE("Transformer layers: gradient checks, and sizes that do not fit are refused") {
    Generator gen(5);
    TransformerEncoderLayer enc({4, 2, 6, true}, gen);
    Tensor valid = Tensor::ones({2, 3});
    valid.at({1, 2}) = 0.0f;
    GradcheckOptions loose;
    loose.rtol = 5e-3f;
    CHECK_GRADS([&](Vars v) { return enc.forward(v[0], constant(valid)); }, std::vector<Tensor>{rand({2, 3, 4}, 13)},
                enc.parameters(), loose);
    TransformerDecoderLayer dec({4, 2, 6, false}, gen);
    CHECK_GRADS(
        [&](Vars v) {
            return dec.forward(v[0], constant(causal_mask(2, 2)), nullptr, dec.cross_attn->precompute(v[1], constant(valid))).y;
        },
        std::vector<Tensor>{rand({2, 2, 4}, 14), rand({2, 3, 4}, 15)}, dec.parameters(), loose);
    CHECK_THROWS_WITH_AS(TransformerEncoderLayer({6, 4, 8, false}, gen), doctest::Contains("4 heads must divide the model size 6"),
                         Error);
    CHECK_THROWS_AS(enc.forward(constant(Tensor(Shape{2, 3, 5})), constant(valid)), ShapeError);
    active_tape().clear();
}

TEST_CASE("sinusoidal positions and the causal mask, by hand") {
    const Tensor pe = sinusoidal_positions(2, 2, 4);  // positions 2 and 3, d = 4
    CHECK(pe.at({0, 0}) == doctest::Approx(std::sin(2.0)));
    CHECK(pe.at({0, 1}) == doctest::Approx(std::cos(2.0)));
    CHECK(pe.at({1, 2}) == doctest::Approx(std::sin(3.0 / 100.0)));  // 10000^(2/4) = 100
    CHECK(pe.at({1, 3}) == doctest::Approx(std::cos(3.0 / 100.0)));
    const Tensor m = causal_mask(1, 3);
    CHECK(m.at({0, 0, 0}) == 1.0f);
    CHECK(m.at({0, 0, 1}) == 0.0f);
    CHECK(m.at({0, 2, 1}) == 1.0f);
    CHECK(m.at({0, 1, 2}) == 0.0f);
}
