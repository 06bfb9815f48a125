// Every registered recurrent cell (layers/cell_kinds.hpp): a gradient check of the cell and of a
// bidirectional layer of it over mixed lengths, so that a new cell is checked the moment it has its
// row; and the minimal gated unit against its equations, computed here by hand in double.
#include <cmath>

#include "helpers.hpp"
#include "tapegrad.hpp"

using namespace tg;
using tg::test::rand;
using Vars = std::span<const Var>;

TEST_CASE("every registered cell: gradient checks of the cell and of a bidirectional layer of it") {
    REQUIRE(cell_kinds().size() >= 3);
    for (const CellKind& kind : cell_kinds()) {
        CAPTURE(kind.name);
        Generator gen(7);
        const CellPtr cell = make_cell(kind.name, 3, 4, gen);
        CHECK(cell->weight_ih.shape() == Shape{kind.gates * 4, 3});  // G gates, as the row says
        CHECK(cell->weight_hh.shape() == Shape{kind.gates * 4, 4});
        CHECK_GRADS([&](Vars v) { return cell->forward(v[0], v[1]); },
                    std::vector<Tensor>{rand({2, 3}, 3), rand({2, cell->state_size()}, 4)}, cell->parameters());
        const std::unique_ptr<Recurrent> layer = make_recurrent(kind.name, 3, 2, gen, Direction::bidirectional);
        CHECK(layer->named_parameters().front().first == "fwd.weight_ih");  // the names a checkpoint holds
        const std::vector<int> lengths = {4, 1, 3};
        CHECK_GRADS([&](Vars v) { const RecurrentOutput o = layer->forward(v[0], lengths); return sum(o.outputs * 0.7f) + sum(o.final); },
                    std::vector<Tensor>{rand({3, 4, 3}, 5)}, layer->parameters());
    }
    Generator gen(1);
    CHECK_THROWS_WITH_AS(make_cell("mgru", 3, 4, gen), "cell 'mgru': unknown; the cells are gru, lstm, mgu", Error);
}

TEST_CASE("MGUCell: f = sigmoid(W_if x + b_if + W_hf h + b_hf), n = tanh(W_in x + b_in + f (W_hn h + b_hn)), h' = (1 - f) h + f n") {
    Generator gen(11);
    MGUCell cell(3, 2, gen);
    const Tensor x = rand({2, 3}, 1), h = rand({2, 2}, 2);
    const Tensor out = cell.forward(constant(x), constant(h)).value();
    const Tensor &wi = cell.weight_ih.value(), &wh = cell.weight_hh.value(), &bi = cell.bias_ih.value(), &bh = cell.bias_hh.value();
    auto W = [](const Tensor& t, std::size_t r, std::size_t c) { return static_cast<double>(t.flat()[r * t.shape()[1] + c]); };
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t j = 0; j < 2; ++j) {
            auto gate = [&](std::size_t row, double* in, double* rec) {  // W_i[row] x + b_i[row], W_h[row] h + b_h[row]
                *in = static_cast<double>(bi.flat()[row]);
                *rec = static_cast<double>(bh.flat()[row]);
                for (std::size_t k = 0; k < 3; ++k) *in += W(wi, row, k) * static_cast<double>(x.flat()[b * 3 + k]);
                for (std::size_t k = 0; k < 2; ++k) *rec += W(wh, row, k) * static_cast<double>(h.flat()[b * 2 + k]);
            };
            double fi, fh, ni, nh;
            gate(j, &fi, &fh);      // the rows [f; n]: f's first
            gate(2 + j, &ni, &nh);
            const double f = 1 / (1 + std::exp(-(fi + fh)));
            const double n = std::tanh(ni + f * nh);
            const double hj = static_cast<double>(h.flat()[b * 2 + j]);
            CHECK(out.flat()[b * 2 + j] == doctest::Approx((1 - f) * hj + f * n).epsilon(1e-6));
        }
}

TEST_CASE("MGUCell matches the minimal gated unit written in PyTorch's ops, values and gradients") {
    const std::string c = "mgu_cell";
    Generator gen(2);
    MGUCell cell(4, 5, gen);
    for (auto [p, name] : {std::pair{&cell.weight_ih, "weight_ih"}, {&cell.weight_hh, "weight_hh"}, {&cell.bias_ih, "bias_ih"},
                           {&cell.bias_hh, "bias_hh"}}) {
        REQUIRE(p->shape() == tg::test::fixture(c, name).shape());
        p->value() = tg::test::fixture(c, name);
    }
    Parameter x(tg::test::fixture(c, "x")), h(tg::test::fixture(c, "h"));
    Var out = cell.forward(x, h);
    CHECK_CLOSE(out.value(), tg::test::fixture(c, "out"));
    sum(out * constant(tg::test::fixture(c, "wy"))).backward();
    CHECK_CLOSE(x.grad(), tg::test::fixture(c, "grad_x"));
    CHECK_CLOSE(h.grad(), tg::test::fixture(c, "grad_h"));
    CHECK_CLOSE(cell.weight_ih.grad(), tg::test::fixture(c, "grad_weight_ih"));
    CHECK_CLOSE(cell.weight_hh.grad(), tg::test::fixture(c, "grad_weight_hh"));
    CHECK_CLOSE(cell.bias_ih.grad(), tg::test::fixture(c, "grad_bias_ih"));
    CHECK_CLOSE(cell.bias_hh.grad(), tg::test::fixture(c, "grad_bias_hh"));
    active_tape().clear();
}
