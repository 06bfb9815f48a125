// Layers: values and gradients against PyTorch (fixtures), gradient checks of every module,
// padding that changes nothing real, and the Module machinery.
#include "helpers.hpp"
#include "tapegrad.hpp"

using namespace tg;
using tg::test::fixture;
using tg::test::rand;
using Vars = std::span<const Var>;

namespace {

void set(Parameter& p, const Tensor& value) {
    REQUIRE(p.shape() == value.shape());
    p.value() = value;
}

// Fills a GRUCell's parameters from fixture files "<prefix>weight_ih" etc.
void set_cell(GRUCell& cell, const std::string& fixture_case, const std::string& prefix = "") {
    set(cell.weight_ih, fixture(fixture_case, prefix + "weight_ih"));
    set(cell.weight_hh, fixture(fixture_case, prefix + "weight_hh"));
    set(cell.bias_ih, fixture(fixture_case, prefix + "bias_ih"));
    set(cell.bias_hh, fixture(fixture_case, prefix + "bias_hh"));
}

std::vector<int> lengths_of(const Tensor& t) {
    std::vector<int> out;
    for (float v : t.flat()) out.push_back(static_cast<int>(v));
    return out;
}

}  // namespace

TEST_CASE("Linear matches torch.nn.functional.linear, values and gradients") {
    Generator gen(1);
    Linear lin(4, 5, gen);
    set(lin.weight, fixture("linear", "weight"));
    set(lin.bias, fixture("linear", "bias"));
    Parameter x(fixture("linear", "x"));
    Var y = lin.forward(x);
    CHECK_CLOSE(y.value(), fixture("linear", "y"));
    sum(y * constant(fixture("linear", "wy"))).backward();
    CHECK_CLOSE(x.grad(), fixture("linear", "grad_x"));
    CHECK_CLOSE(lin.weight.grad(), fixture("linear", "grad_weight"));
    CHECK_CLOSE(lin.bias.grad(), fixture("linear", "grad_bias"));
    active_tape().clear();
}

TEST_CASE("GRUCell matches PyTorch: reset-after (nn.GRUCell) and the paper's reset-before") {
    for (const bool reset_after : {true, false}) {
        const std::string c = reset_after ? "gru_cell" : "gru_cell_reset_before";
        CAPTURE(c);
        Generator gen(2);
        GRUCell cell(4, 5, gen, reset_after);
        set_cell(cell, c);
        Parameter x(fixture(c, "x")), h(fixture(c, "h"));
        Var out = cell.forward(x, h);
        CHECK_CLOSE(out.value(), fixture(c, "out"));
        sum(out * constant(fixture(c, "wy"))).backward();
        CHECK_CLOSE(x.grad(), fixture(c, "grad_x"));
        CHECK_CLOSE(h.grad(), fixture(c, "grad_h"));
        CHECK_CLOSE(cell.weight_ih.grad(), fixture(c, "grad_weight_ih"));
        CHECK_CLOSE(cell.weight_hh.grad(), fixture(c, "grad_weight_hh"));
        CHECK_CLOSE(cell.bias_ih.grad(), fixture(c, "grad_bias_ih"));
        CHECK_CLOSE(cell.bias_hh.grad(), fixture(c, "grad_bias_hh"));
        active_tape().clear();
    }
}

TEST_CASE("bidirectional GRU over a padded batch matches nn.GRU with packed sequences") {
    Generator gen(3);
    GRU gru(4, 5, gen, Direction::bidirectional);
    set_cell(*gru.fwd, "bigru", "fwd.");
    set_cell(*gru.bwd, "bigru", "bwd.");
    Parameter x(fixture("bigru", "x"));
    const std::vector<int> lengths = lengths_of(fixture("bigru", "lengths"));  // 6, 3, 1
    GRUOutput out = gru.forward(x, lengths);
    CHECK_CLOSE(out.outputs.value(), fixture("bigru", "out"));
    CHECK_CLOSE(out.final.value(), fixture("bigru", "final"));
    Var loss = sum(out.outputs * constant(fixture("bigru", "w_out"))) + sum(out.final * constant(fixture("bigru", "w_final")));
    loss.backward();
    CHECK_CLOSE(x.grad(), fixture("bigru", "grad_x"));
    for (const auto& [name, p] : gru.named_parameters()) {
        CAPTURE(name);
        CHECK_CLOSE(p->grad(), fixture("bigru", "grad_" + name));
    }
    active_tape().clear();
}

TEST_CASE("LSTMCell and a bidirectional LSTM over a padded batch match nn.LSTMCell and nn.LSTM") {
    Generator gen(3);
    LSTMCell cell(4, 5, gen);
    for (const auto& [name, p] : cell.named_parameters()) set(*p, fixture("lstm_cell", name));
    Parameter x(fixture("lstm_cell", "x")), state(fixture("lstm_cell", "state"));  // [h ; c]
    Var out = cell.forward(x, state);
    CHECK_CLOSE(out.value(), fixture("lstm_cell", "out"));
    CHECK(cell.output(out).shape() == Shape{3, 5});
    sum(out * constant(fixture("lstm_cell", "w_out"))).backward();
    CHECK_CLOSE(x.grad(), fixture("lstm_cell", "grad_x"));
    CHECK_CLOSE(state.grad(), fixture("lstm_cell", "grad_state"));
    for (const auto& [name, p] : cell.named_parameters()) {
        CAPTURE(name);
        CHECK_CLOSE(p->grad(), fixture("lstm_cell", "grad_" + name));
    }
    active_tape().clear();

    LSTM lstm(4, 5, gen, Direction::bidirectional);
    for (const auto& [name, p] : lstm.named_parameters()) set(*p, fixture("bilstm", name));
    Parameter xs(fixture("bilstm", "x"));
    const std::vector<int> lengths = lengths_of(fixture("bilstm", "lengths"));  // 6, 3, 1
    RecurrentOutput r = lstm.forward(xs, lengths);
    CHECK_CLOSE(r.outputs.value(), fixture("bilstm", "out"));
    CHECK_CLOSE(r.final.value(), fixture("bilstm", "final"));
    (sum(r.outputs * constant(fixture("bilstm", "w_out"))) + sum(r.final * constant(fixture("bilstm", "w_final")))).backward();
    CHECK_CLOSE(xs.grad(), fixture("bilstm", "grad_x"));
    for (const auto& [name, p] : lstm.named_parameters()) {
        CAPTURE(name);
        CHECK_CLOSE(p->grad(), fixture("bilstm", "grad_" + name));
    }
    active_tape().clear();
    {  // without gradients: the same values (the no-grad path releases each step)
        NoGradGuard no_grad;
        RecurrentOutput again = lstm.forward(constant(fixture("bilstm", "x")), lengths);
        CHECK_CLOSE(again.outputs.value(), fixture("bilstm", "out"));
        CHECK_CLOSE(again.final.value(), fixture("bilstm", "final"));
    }
    CHECK_THROWS_WITH_ALL(lstm.forward(constant(Tensor::zeros({3, 6, 5})), lengths), ShapeError, "LSTM", "[3, 6, 5]");
    active_tape().clear();
}

TEST_CASE("bidirectional GRU under no-grad: the same values as nn.GRU, each step's temporaries released") {
    // Without gradients the GRU releases each step's values when the step ends (layers/gru.cpp):
    // the outputs and final states must still be PyTorch's, padding included, and what stays on the
    // tape is the input projections and the results, not T steps' temporaries.
    Generator gen(3);
    GRU gru(4, 5, gen, Direction::bidirectional);
    set_cell(*gru.fwd, "bigru", "fwd.");
    set_cell(*gru.bwd, "bigru", "bwd.");
    const std::vector<int> lengths = lengths_of(fixture("bigru", "lengths"));  // 6, 3, 1
    Tape tape;
    TapeScope scope(tape);
    NoGradGuard no_grad;
    const Var x = constant(fixture("bigru", "x"));
    const std::size_t before = tape.arena().bytes_in_use();
    GRUOutput out = gru.forward(x, lengths);
    CHECK_CLOSE(out.outputs.value(), fixture("bigru", "out"));
    CHECK_CLOSE(out.final.value(), fixture("bigru", "final"));
    // In floats: 2 directions x (projections [3, 6, 15], outputs [3, 6, 5], final state [3, 5]), their
    // concatenation [3, 6, 10], the finals stacked [2, 3, 5], the mask [6, 3]: 978, and each value
    // rounded up to a cache line: 4,096 bytes. Keeping every step's values took 11,392.
    const std::size_t kept = tape.arena().bytes_in_use() - before;
    MESSAGE("bytes kept on the tape by a no-grad GRU over [3, 6, 4]: " << kept);
    CHECK(kept <= 978 * 4 + 16 * 64);
}

// The score functions of layers/attention.hpp, each with the sizes its fixture was made with.
struct AttentionCase {
    const char* kind;
    const char* fixture;
    AttentionSizes sizes;
};
const AttentionCase kAttentionCases[] = {
    {"additive", "attention", {4, 6, 7, 1}},
    {"dot", "attention_dot", {6, 6, 0, 1}},
    {"general", "attention_general", {4, 6, 0, 1}},
    {"scaled_dot", "attention_scaled_dot", {6, 6, 0, 1}},
    {"multi_head", "attention_multi_head", {6, 4, 0, 2}},
};

TEST_CASE("every score function matches PyTorch; padded positions get exactly zero weight") {
    Generator gen(4);
    REQUIRE(attention_kinds().size() == std::size(kAttentionCases));  // a new score function needs its case here
    for (const AttentionCase& c : kAttentionCases) {
        CAPTURE(c.kind);
        const AttentionPtr attn = make_attention(c.kind, c.sizes, gen);
        CHECK(std::string(attn->kind()) == c.kind);
        for (const auto& [name, p] : attn->named_parameters()) set(*p, fixture(c.fixture, name));
        Parameter ann(fixture(c.fixture, "annotations")), query(fixture(c.fixture, "query"));
        auto [context, weights, head_weights] = attn->forward(attn->precompute(ann, constant(fixture(c.fixture, "valid"))), query);
        CHECK(context.shape()[1] == attn->context_size());
        CHECK_CLOSE(context.value(), fixture(c.fixture, "context"));
        CHECK_CLOSE(weights.value(), fixture(c.fixture, "weights"));
        if (c.sizes.heads > 1) {  // [B, heads, G = 1, S]: the data of PyTorch's [B, heads, S]
            const Tensor expected = fixture(c.fixture, "head_weights");
            CHECK_CLOSE(reshape(head_weights, expected.shape()).value(), expected);
        }
        CHECK(weights.value().at({1, 3}) == 0.0f);
        CHECK(weights.value().at({1, 4}) == 0.0f);
        Var loss = sum(context * constant(fixture(c.fixture, "w_ctx"))) + sum(weights * constant(fixture(c.fixture, "w_alpha")));
        loss.backward();
        CHECK_CLOSE(ann.grad(), fixture(c.fixture, "grad_annotations"));
        CHECK_CLOSE(query.grad(), fixture(c.fixture, "grad_query"));
        for (const auto& [name, p] : attn->named_parameters()) {
            CAPTURE(name);
            CHECK_CLOSE(p->grad(), fixture(c.fixture, "grad_" + name));
        }
        active_tape().clear();
    }
}

TEST_CASE("every score function with G queries a sentence (beam search): each query as if asked alone") {
    Generator gen(4);
    for (const AttentionCase& c : kAttentionCases) {
        CAPTURE(c.kind);
        const AttentionPtr attn = make_attention(c.kind, c.sizes, gen);
        const std::size_t B = 2, S = 5, Q = c.sizes.query, C = attn->context_size();
        const Tensor q1 = rand({B, Q}, 1), q2 = rand({B, Q}, 2);
        Tensor both({2 * B, Q});  // sentence b's two queries in rows 2b and 2b + 1
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t j = 0; j < Q; ++j) both.at({2 * b, j}) = q1.at({b, j}), both.at({2 * b + 1, j}) = q2.at({b, j});
        const auto memory = attn->precompute(constant(fixture(c.fixture, "annotations")), constant(fixture(c.fixture, "valid")));
        const auto grouped = attn->forward(memory, constant(both));
        const auto one = attn->forward(memory, constant(q1)), two = attn->forward(memory, constant(q2));
        REQUIRE(grouped.context.shape() == Shape{2 * B, C});
        REQUIRE(grouped.weights.shape() == Shape{2 * B, S});
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t j = 0; j < C; ++j) {
                CHECK(grouped.context.value().at({2 * b, j}) == doctest::Approx(one.context.value().at({b, j})).epsilon(1e-6));
                CHECK(grouped.context.value().at({2 * b + 1, j}) == doctest::Approx(two.context.value().at({b, j})).epsilon(1e-6));
            }
            for (std::size_t j = 0; j < S; ++j) {
                CHECK(grouped.weights.value().at({2 * b, j}) == doctest::Approx(one.weights.value().at({b, j})).epsilon(1e-6));
                CHECK(grouped.weights.value().at({2 * b + 1, j}) == doctest::Approx(two.weights.value().at({b, j})).epsilon(1e-6));
            }
        }
        CHECK(grouped.weights.value().at({3, 3}) == 0.0f);  // sentence 1's padding, for its second query too
        CHECK_THROWS_WITH_ALL(attn->forward(memory, constant(Tensor::zeros({2 * B + 1, Q}))), ShapeError, c.kind, "query");
        CHECK_THROWS_WITH_ALL(attn->forward(memory, constant(Tensor::zeros({B, Q + 1}))), ShapeError, c.kind, "query");
        CHECK_THROWS_WITH_ALL(attn->precompute(constant(Tensor::zeros({B, S, c.sizes.key + 1})), constant(fixture(c.fixture, "valid"))),
                              ShapeError, c.kind, "values");
        active_tape().clear();
    }
}

TEST_CASE("make_attention names what it cannot build") {
    Generator gen(1);
    CHECK_THROWS_WITH_ALL(make_attention("luong", {4, 4, 4, 1}, gen), Error, "luong", "additive, dot, general, scaled_dot, multi_head");
    CHECK_THROWS_WITH_ALL(make_attention("dot", {4, 8, 0, 1}, gen), Error, "dot", "(4)", "(8)");
    CHECK_THROWS_WITH_ALL(make_attention("scaled_dot", {4, 8, 0, 1}, gen), Error, "scaled_dot");
    CHECK_THROWS_WITH_ALL(make_attention("multi_head", {6, 4, 0, 4}, gen), Error, "4 heads", "6");
    CHECK_THROWS_WITH_ALL(make_attention("additive", {4, 4, 0, 1}, gen), Error, "additive", "attention 0");
}

TEST_CASE("Embedding with a padding index, and cross-entropy, match PyTorch") {
    Generator gen(5);
    Embedding emb(6, 3, gen, /*padding_idx=*/0);
    CHECK(max_abs_diff(select(constant(emb.weight.value()), 0, 0).value(), Tensor::zeros({3})) == 0.0f);
    set(emb.weight, fixture("embedding_and_loss", "weight"));
    const Tensor id_values = fixture("embedding_and_loss", "ids"), target_values = fixture("embedding_and_loss", "targets");
    std::vector<std::int32_t> ids, targets;
    for (float v : id_values.flat()) ids.push_back(static_cast<std::int32_t>(v));
    for (float v : target_values.flat()) targets.push_back(static_cast<std::int32_t>(v));
    Var e = emb.forward(ids, {2, 3});
    CHECK_CLOSE(e.value(), fixture("embedding_and_loss", "out"));
    Parameter logits(fixture("embedding_and_loss", "logits"));
    Var loss = cross_entropy(logits, targets, /*ignore_index=*/0);
    CHECK_CLOSE(loss.value(), fixture("embedding_and_loss", "loss"));
    CHECK_CLOSE(log_softmax(logits, 1).value(), fixture("embedding_and_loss", "log_softmax"));
    (sum(e * constant(fixture("embedding_and_loss", "w_e"))) + loss).backward();
    CHECK_CLOSE(emb.weight.grad(), fixture("embedding_and_loss", "grad_weight"));  // row 0 (padding): zero
    CHECK_CLOSE(logits.grad(), fixture("embedding_and_loss", "grad_logits"));

    // label_smoothing 0.1, as torch.nn.functional.cross_entropy(..., label_smoothing=0.1)
    Parameter smooth(fixture("embedding_and_loss", "logits"));
    Var smooth_loss = cross_entropy(smooth, targets, /*ignore_index=*/0, /*label_smoothing=*/0.1f);
    CHECK_CLOSE(smooth_loss.value(), fixture("embedding_and_loss", "loss_smooth"));
    smooth_loss.backward();
    CHECK_CLOSE(smooth.grad(), fixture("embedding_and_loss", "grad_logits_smooth"));
    active_tape().clear();
}

TEST_CASE("gradient checks of every module, parameters included") {
    Generator gen(6);
    SUBCASE("Linear, with and without bias") {
        Linear with(3, 4, gen), without(3, 4, gen, false);
        CHECK_GRADS([&](Vars v) { return with.forward(v[0]); }, std::vector<Tensor>{rand({2, 3}, 1)}, with.parameters());
        CHECK_GRADS([&](Vars v) { return without.forward(v[0]); }, std::vector<Tensor>{rand({2, 5, 3}, 2)},
                    without.parameters());
    }
    SUBCASE("GRUCell, both forms") {
        for (const bool reset_after : {true, false}) {
            CAPTURE(reset_after);
            GRUCell cell(3, 4, gen, reset_after);
            CHECK_GRADS([&](Vars v) { return cell.forward(v[0], v[1]); },
                        std::vector<Tensor>{rand({2, 3}, 3), rand({2, 4}, 4)}, cell.parameters());
        }
    }
    SUBCASE("LSTMCell, and a bidirectional LSTM with mixed lengths") {
        LSTMCell cell(3, 4, gen);
        CHECK_GRADS([&](Vars v) { return cell.forward(v[0], v[1]); }, std::vector<Tensor>{rand({2, 3}, 3), rand({2, 8}, 4)},
                    cell.parameters());
        LSTM lstm(3, 2, gen, Direction::bidirectional);
        const std::vector<int> lengths = {4, 1, 3};
        CHECK_GRADS([&](Vars v) { const RecurrentOutput o = lstm.forward(v[0], lengths); return sum(o.outputs * 0.7f) + sum(o.final); },
                    std::vector<Tensor>{rand({3, 4, 3}, 5)}, lstm.parameters());
    }
    SUBCASE("bidirectional GRU with mixed lengths") {
        GRU gru(3, 4, gen, Direction::bidirectional);
        const std::vector<int> lengths = {4, 2, 1};
        CHECK_GRADS(
            [&](Vars v) {
                GRUOutput out = gru.forward(v[0], lengths);
                return sum(out.outputs * 0.7f) + sum(out.final);
            },
            std::vector<Tensor>{rand({3, 4, 3}, 5)}, gru.parameters());
    }
    SUBCASE("one-directional GRUs") {
        for (Direction d : {Direction::forward, Direction::backward}) {
            GRU gru(2, 3, gen, d);
            const std::vector<int> lengths = {3, 1};
            CHECK_GRADS([&](Vars v) { return gru.forward(v[0], lengths).outputs; }, std::vector<Tensor>{rand({2, 3, 2}, 6)},
                        gru.parameters());
        }
    }
    SUBCASE("every score function, with a mask") {
        const Tensor valid({2, 4}, {1, 1, 1, 1, 1, 1, 0, 0});
        for (const AttentionSizes sizes : {AttentionSizes{3, 4, 5, 1}, AttentionSizes{4, 4, 5, 2}})
            for (const AttentionKind& kind : attention_kinds()) {
                if ((kind.equal_sizes && sizes.query != sizes.key) ||
                    (std::string(kind.name) == "multi_head" && sizes.query % sizes.heads != 0))
                    continue;
                CAPTURE(kind.name);
                const AttentionPtr attn = make_attention(kind.name, sizes, gen);
                CHECK_GRADS(
                    [&](Vars v) {
                        auto r = attn->forward(attn->precompute(v[0], constant(valid)), v[1]);
                        return concat({r.context, r.weights}, 1);
                    },
                    std::vector<Tensor>{rand({2, 4, sizes.key}, 7), rand({2, sizes.query}, 8)}, attn->parameters());
            }
    }
// <doc:maxout-gradcheck>
    SUBCASE("Maxout, the paper's deep output layer") {
        Maxout maxout(4, 3, gen);
        CHECK_GRADS([&](Vars v) { return maxout.forward(v[0]); }, std::vector<Tensor>{rand({2, 5, 4}, 9)}, maxout.parameters());
        // Its value: the larger of each pair of adjacent linear units.
        const Tensor x = rand({2, 4}, 10);
        const Tensor t = linear(constant(x), maxout.weight, maxout.bias).value();
        const Tensor y = maxout.forward(constant(x)).value();
        for (std::size_t r = 0; r < 2; ++r)
            for (std::size_t k = 0; k < 3; ++k) CHECK(y.at({r, k}) == std::max(t.at({r, 2 * k}), t.at({r, 2 * k + 1})));
    }
// </doc:maxout-gradcheck>
    SUBCASE("Embedding") {
        Embedding emb(5, 3, gen);
        const std::vector<std::int32_t> ids = {1, 4, 1};
        CHECK_GRADS([&](Vars) { return emb.forward(ids, {3}); }, std::vector<Tensor>{}, emb.parameters());
    }
    active_tape().clear();
}

TEST_CASE("padding changes neither the outputs nor the gradients of real positions") {
    Generator gen(7);
    GRU gru(3, 4, gen, Direction::bidirectional);
    const AttentionPtr attention = make_attention("additive", {4, 8, 5, 1}, gen);
    Attention& attn = *attention;
    const std::vector<int> lengths = {5, 2};
    const Tensor valid({2, 7}, {1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0});
    const Tensor query = rand({2, 4}, 9);
    // The same sentences, padded to 7 with two different fillings.
    Tensor a = rand({2, 7, 3}, 10), b = a;
    for (std::size_t t = 5; t < 7; ++t)
        for (std::size_t k = 0; k < 3; ++k) b.at({0, t, k}) = 100.0f + static_cast<float>(t);
    for (std::size_t t = 2; t < 7; ++t)
        for (std::size_t k = 0; k < 3; ++k) b.at({1, t, k}) = -50.0f;

    struct Run {
        Tensor outputs, final, context, weights, grad_x;
        std::vector<Tensor> grads;
    };
    auto run = [&](const Tensor& input) {
        Tape tape;
        TapeScope scope(tape);
        gru.zero_grad();
        attn.zero_grad();
        Parameter x(input);
        GRUOutput out = gru.forward(x, lengths);
        auto r = attn.forward(attn.precompute(out.outputs, constant(valid)), constant(query));
        (sum(out.outputs) + sum(out.final) + sum(r.context * 1.3f)).backward();
        Run result{out.outputs.value(), out.final.value(), r.context.value(), r.weights.value(), x.grad(), {}};
        for (Parameter* p : gru.parameters()) result.grads.push_back(p->grad());
        for (Parameter* p : attn.parameters()) result.grads.push_back(p->grad());
        return result;
    };
    const Run ra = run(a), rb = run(b);
    CHECK(max_abs_diff(ra.outputs, rb.outputs) == 0.0f);
    CHECK(max_abs_diff(ra.final, rb.final) == 0.0f);
    CHECK(max_abs_diff(ra.context, rb.context) == 0.0f);
    CHECK(max_abs_diff(ra.weights, rb.weights) == 0.0f);
    CHECK(max_abs_diff(ra.grad_x, rb.grad_x) == 0.0f);
    for (std::size_t i = 0; i < ra.grads.size(); ++i) CHECK(max_abs_diff(ra.grads[i], rb.grads[i]) == 0.0f);
    // and padding itself: zero outputs, zero gradient into padded inputs
    CHECK(ra.outputs.at({1, 3, 6}) == 0.0f);
    CHECK(ra.grad_x.at({1, 4, 1}) == 0.0f);
}

TEST_CASE("Module: dotted names, counts, zero_grad, train and eval") {
    struct Encoder : Module {
        Generator gen{1};
        Embedding src_embed{10, 4, gen, 0};
        GRU encoder{4, 3, gen, Direction::bidirectional};
        Linear bridge{3, 3, gen};
        Dropout drop{0.5f};
        Encoder() {
            register_module("src_embed", src_embed);
            register_module("encoder", encoder);
            register_module("bridge", bridge);
            register_module("drop", drop);
        }
    } model;
    std::vector<std::string> names;
    for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
    const std::vector<std::string> expected = {
        "src_embed.weight",      "encoder.fwd.weight_ih", "encoder.fwd.weight_hh", "encoder.fwd.bias_ih",
        "encoder.fwd.bias_hh",   "encoder.bwd.weight_ih", "encoder.bwd.weight_hh", "encoder.bwd.bias_ih",
        "encoder.bwd.bias_hh",   "bridge.weight",         "bridge.bias"};
    CHECK(names == expected);
    CHECK(model.encoder.fwd->weight_ih.name() == "encoder.fwd.weight_ih");  // shown in DOT graphs
    CHECK(model.parameter_count() == 10 * 4 + 2 * (9 * 4 + 9 * 3 + 9 + 9) + 3 * 3 + 3);

    for (Parameter* p : model.parameters()) p->grad().fill(1.0f);
    model.zero_grad();
    for (Parameter* p : model.parameters()) CHECK(max_abs_diff(p->grad(), Tensor::zeros(p->shape())) == 0.0f);

    // Dropout: identity in eval mode; in training, zeros and 1/(1-p) scaling, mean preserved roughly.
    const Tensor ones = Tensor::ones({1000});
    Generator stream(7);
    model.eval();
    CHECK_FALSE(model.drop.is_training());
    CHECK(max_abs_diff(model.drop.forward(constant(ones), stream).value(), ones) == 0.0f);
    model.train();
    Tensor dropped = model.drop.forward(constant(ones), stream).value();
    std::size_t zeros = 0;
    for (float v : dropped.flat()) {
        CHECK((v == 0.0f || v == 2.0f));
        zeros += v == 0.0f;
    }
    CHECK(zeros > 400);
    CHECK(zeros < 600);
    active_tape().clear();
}

TEST_CASE("layers reject wrong shapes with the shapes in the message") {
    Generator gen(8);
    Linear lin(3, 4, gen);
    GRU gru(3, 4, gen);
    CHECK_THROWS_WITH_ALL(lin.forward(constant(Tensor::zeros({2, 5}))), ShapeError, "Linear", "[2, 5]", "[4, 3]");
    CHECK_THROWS_WITH_ALL(gru.forward(constant(Tensor::zeros({2, 4, 3})), std::vector<int>{4}), ShapeError, "GRU",
                          "1 lengths", "[2, 4, 3]");
    CHECK_THROWS_WITH_ALL(gru.forward(constant(Tensor::zeros({1, 4, 3})), std::vector<int>{5}), IndexError, "GRU",
                          "length 5");
    active_tape().clear();
}
