// The third example: a GRU encoder-decoder learns to reverse sequences of digits.
// The encoder reads "3 1 4 1 5"; its last state is all the decoder gets (no attention yet: that
// is the translator's step); the decoder writes "5 1 4 1 3" one digit at a time.
//   Run:  build/examples/gru_reverse [--dot gru_step.dot]
// With --dot it also writes the tape of one GRU step as a Graphviz graph (docs/architecture.md).
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "tapegrad.hpp"
#include "viz/tape_graph.hpp"

using namespace tg;

constexpr std::int32_t kDigits = 10, kStart = 10;  // ids 0-9 are digits; 10 starts the output
constexpr std::size_t kHidden = 64, kLen = 6;

struct Reverser : Module {
    Embedding embed;  // the 10 digits and the start symbol
    GRU encoder;      // reads the input left to right
    GRUCell decoder;  // writes the output, starting from the encoder's last state
    Linear output;    // decoder state -> scores of the 10 digits
    explicit Reverser(Generator& gen)
        : embed(kDigits + 1, 16, gen), encoder(16, kHidden, gen), decoder(16, kHidden, gen), output(kHidden, kDigits, gen) {
        register_module("embed", embed);
        register_module("encoder", encoder);
        register_module("decoder", decoder);
        register_module("output", output);
    }

    // Scores [B, kLen, 10] of each output digit, given the right previous digits (teacher forcing).
    Var forward(const std::vector<std::int32_t>& input, const std::vector<std::int32_t>& previous, std::size_t batch) const {
        const std::vector<int> lengths(batch, static_cast<int>(kLen));
        Var h = select(encoder.forward(embed.forward(input, {batch, kLen}), lengths).final, 0, 0);  // [B, H]
        Var prev = embed.forward(previous, {batch, kLen});
        std::vector<Var> scores;
        for (std::size_t t = 0; t < kLen; ++t) {
            h = decoder.forward(select(prev, 1, t), h);
            scores.push_back(output.forward(h));
        }
        return stack(scores, 1);
    }
};

// A batch of random digit strings, their reversals, and the decoder's inputs (start, then reversal).
static void make_batch(Generator& gen, std::size_t batch, std::vector<std::int32_t>& input, std::vector<std::int32_t>& target,
                       std::vector<std::int32_t>& previous) {
    input.resize(batch * kLen);
    target.resize(batch * kLen);
    previous.resize(batch * kLen);
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t t = 0; t < kLen; ++t) input[b * kLen + t] = static_cast<std::int32_t>(gen.next_u64() % kDigits);
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t t = 0; t < kLen; ++t) {
            target[b * kLen + t] = input[b * kLen + kLen - 1 - t];
            previous[b * kLen + t] = t == 0 ? kStart : target[b * kLen + t - 1];
        }
}

// Greedy decoding: feed back the model's own digits.
static std::vector<std::int32_t> reverse_greedy(const Reverser& m, const std::vector<std::int32_t>& input) {
    InferenceMode inference;  // no records, and the values made here are released on return
    Var h = select(m.encoder.forward(m.embed.forward(input, {1, kLen}), std::vector<int>{static_cast<int>(kLen)}).final, 0, 0);
    std::vector<std::int32_t> out;
    std::int32_t prev = kStart;
    for (std::size_t t = 0; t < kLen; ++t) {
        h = m.decoder.forward(m.embed.forward(std::vector<std::int32_t>{prev}, {1}), h);
        const Tensor& s = m.output.forward(h).value();
        prev = static_cast<std::int32_t>(std::max_element(s.data(), s.data() + kDigits) - s.data());
        out.push_back(prev);
    }
    return out;
}

int main(int argc, char** argv) {
    Generator gen(7);
    Reverser model(gen);
    if (argc == 3 && std::string(argv[1]) == "--dot") {  // one GRU step, recorded and drawn
        Tape tape;
        TapeScope scope(tape);
        model.decoder.forward(constant(Tensor::randn({2, 16}, gen)).label("x"), constant(Tensor::zeros({2, kHidden})).label("h"))
            .label("h'");
        std::ofstream(argv[2]) << tg::viz::tape_dot(tape);
        fmt::print("{}wrote the graph of one GRU step to {}\n", tg::viz::tape_text(tape), argv[2]);
        return 0;
    }
    Adam opt(model.named_parameters(), {.lr = 3e-3});
    std::vector<std::int32_t> input, target, previous;
    for (int step = 0; step <= 3000; ++step) {
        StepScope step_scope;  // the step's values and records are released at the closing brace
        opt.zero_grad();
        make_batch(gen, 32, input, target, previous);
        Var scores = model.forward(input, previous, 32);
        Var loss = cross_entropy(reshape(scores, {32 * kLen, kDigits}), target);
        loss.backward();
        clip_grad_norm(opt.params(), 1.0f);
        opt.step();
        if (step % 500 == 0) fmt::print("step {:4}  loss {:.4f}\n", step, loss.item());
    }
    std::size_t right = 0;
    for (int i = 0; i < 200; ++i) {
        make_batch(gen, 1, input, target, previous);
        const std::vector<std::int32_t> out = reverse_greedy(model, input);
        right += out == target;
        if (i < 3) fmt::print("{}  ->  {}\n", fmt::join(input, " "), fmt::join(out, " "));
    }
    fmt::print("reversed exactly: {} of 200 new sequences\n", right);
    return right >= 180 ? 0 : 1;
}
