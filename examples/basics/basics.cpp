// The first example: the expression of micrograd's README, built from tapegrad ops, differentiated
// by one backward sweep over the tape. Prints the tape, the value, the gradients, and writes the
// graph as Graphviz DOT.   Run:  build/examples/basics [graph.dot]
#include <fmt/core.h>

#include <fstream>

#include "autograd/autograd.hpp"
#include "viz/tape_graph.hpp"

int main(int argc, char** argv) {
    using namespace tg;
    const char* dot_path = argc > 1 ? argv[1] : "basics.dot";
// <doc:basics>

    // Two leaves that want gradients.
    Parameter a(Tensor::scalar(-4.0f), "a");
    Parameter b(Tensor::scalar(2.0f), "b");

    // micrograd's example, op for op (x**3 is x*x*x, 10/f is a constant over f).
    Var c = a + b;
    Var d = a * b + b * b * b;
    c = c + c + 1.0f;
    c = c + (1.0f + c + (-a));
    d = d + (d * 2.0f + relu(b + a));
    d = d + (3.0f * d + relu(b - a));
    Var e = (c - d).label("e");
    Var f = (e * e).label("f");
    Var g = f / 2.0f;
    g = (g + constant(10.0f) / f).label("g");

    g.backward();  // one reverse sweep over the records
// </doc:basics>

    fmt::print("{}\n", tg::viz::tape_text(active_tape()));
    fmt::print("g     = {:.4f}   (micrograd: 24.7041)\n", g.item());
    fmt::print("dg/da = {:.4f}  (micrograd: 138.8338)\n", a.grad().item());
    fmt::print("dg/db = {:.4f}  (micrograd: 645.5773)\n", b.grad().item());

    std::ofstream(dot_path) << tg::viz::tape_dot(active_tape());
    fmt::print("graph written to {}  (render: dot -Tsvg {} -o basics.svg)\n", dot_path, dot_path);
}
