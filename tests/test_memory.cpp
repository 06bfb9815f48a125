// Memory: the tape's arena, scopes that give memory back (Tape::rewind, InferenceMode), and the
// promise behind them: a training run on batches of varying shapes needs the memory of its largest
// step, and decoding a whole file needs the memory of one step.
#include <cstdint>
#include <numeric>

#include "bench/alloc_counter.hpp"
#include "checkpoint.hpp"
#include "decode.hpp"
#include "evaluate.hpp"
#include "helpers.hpp"
#include "model.hpp"
#include "optim/adam.hpp"
#include "text/batching.hpp"

using namespace tg;
using namespace translator;
using tg::test::rand;

TEST_CASE("backward gives a finished gradient's memory to the next gradient of its size") {
    // A chain of 50 tanh over 1,024 values: the tape holds 50 values, but only one or two of their
    // gradients are in flight at any moment of the reverse sweep, so backward's extra memory is a few
    // gradients, not 50 (each op's output gradient is finished once its backward has run).
    Tape tape;
    TapeScope scope(tape);
    Parameter x(rand({1024}, 3));
    Var h = x;
    for (int i = 0; i < 50; ++i) h = tanh(h);
    Var y = sum(h);
    const std::size_t after_forward = tape.arena().bytes_in_use();
    y.backward();
    const std::size_t gradient_bytes = 1024 * sizeof(float);
    CHECK(tape.arena().peak_bytes() - after_forward <= 3 * gradient_bytes);
    // and the recycled memory holds the right numbers: d y / d x = prod over the chain of 1 - tanh^2
    for (std::size_t j = 0; j < 1024; j += 101) {
        double v = x.value().data()[j], g = 1.0;
        for (int i = 0; i < 50; ++i) {
            v = std::tanh(v);
            g *= 1.0 - v * v;
        }
        CHECK(x.grad().data()[j] == doctest::Approx(g).epsilon(1e-5));
    }
    // Backward again over the same records (a Jacobian row by row, or micro-batches): each sweep
    // reuses the buffers of the last one; the arena does not grow sweep after sweep.
    y.backward();
    const std::size_t after_two = tape.arena().peak_bytes();
    for (int sweep = 0; sweep < 20; ++sweep) y.backward();
    CHECK(tape.arena().peak_bytes() == after_two);
}

TEST_CASE("arena: aligned bump allocation, O(1) reset, marks, and one block once warmed up") {
    Arena arena(256);
    char* a = static_cast<char*>(arena.allocate(10));
    char* b = static_cast<char*>(arena.allocate(100));
    CHECK(reinterpret_cast<std::uintptr_t>(a) % 64 == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(b) % 64 == 0);
    CHECK(b == a + 64);                   // 10 bytes take one cache line
    CHECK(arena.bytes_in_use() == 64 + 128);

    const Arena::Mark m = arena.mark();
    arena.allocate(1000);                 // does not fit the 256-byte block: a second block
    CHECK(arena.num_blocks() == 2);
    CHECK(arena.bytes_in_use() == 192 + 1024);
    arena.rewind(m);
    CHECK(arena.bytes_in_use() == 192);
    CHECK(static_cast<char*>(arena.allocate(64)) == a + 192);  // the space after the mark is handed out again

    CHECK(arena.peak_bytes() == 192 + 1024);
    arena.reset();                        // two blocks were needed: merged into one, the peak and half again
    CHECK(arena.bytes_in_use() == 0);
    CHECK(arena.num_blocks() == 1);
    CHECK(arena.reserved_bytes() == (arena.peak_bytes() * 3 / 2 + 63) / 64 * 64);
    const std::size_t before = tg::bench::allocations();
    arena.allocate(10);
    arena.allocate(100);
    arena.allocate(1000);                 // the same step again: fits the one block, no allocation
    CHECK(tg::bench::allocations() == before);
    CHECK(arena.num_blocks() == 1);
}

TEST_CASE("values, gradients and saved buffers live in the tape's arena, released by clear()") {
    Tape tape;
    TapeScope scope(tape);
    Parameter w(rand({64, 32}, 1));
    Var x = constant(rand({16, 64}, 2));
    Var loss = sum(softmax(matmul(x, w), 1) * matmul(x, w));
    const std::size_t forward = tape.arena().bytes_in_use();
    CHECK(forward >= (16 * 64 + 3 * 16 * 32) * sizeof(float));  // x, two products, softmax (and its saved copy)
    loss.backward();
    CHECK(tape.arena().bytes_in_use() > forward);  // the gradients of the intermediate values
    tape.clear();
    CHECK(tape.arena().bytes_in_use() == 0);
    CHECK(w.grad().numel() == 64 * 32);  // a Parameter's gradient is its own, not the tape's
}

TEST_CASE("a value released by clear() throws even before its slot is reused") {
    Tape tape;
    TapeScope scope(tape);
    Var a = constant(rand({4, 4}, 1)) * 2.0f;
    Var b = a + 1.0f;  // the last value: its slot is not reused by the one value made below
    tape.clear();
    constant(Tensor(Shape{1}));
    CHECK_THROWS_WITH_ALL(b.value(), TapeError, "released", "Tape::clear()");
}

TEST_CASE("Tape::rewind releases what came after the mark and nothing before it") {
    Tape tape;
    TapeScope scope(tape);
    Parameter w(rand({3, 3}, 1));
    Var before = matmul(constant(rand({2, 3}, 2)), w);
    const std::size_t values = tape.num_values(), records = tape.num_records(), bytes = tape.arena().bytes_in_use();
    const Tape::Mark m = tape.mark();
    Var after = tanh(before) * 3.0f;
    tape.rewind(m);
    CHECK(tape.num_values() == values);
    CHECK(tape.num_records() == records);
    CHECK(tape.arena().bytes_in_use() == bytes);
    CHECK_THROWS_WITH_ALL(after.value(), TapeError, "released");
    Var again = tanh(before) * 3.0f;  // reuses the released slots: `after` must still throw
    CHECK_THROWS_AS(after.value(), TapeError);
    sum(again).backward();  // the values before the mark are intact, gradients flow through them
    CHECK(w.grad().at({0, 0}) != 0.0f);
}

TEST_CASE("a gradient a step gives a value from before its scope goes with the step's memory") {
    // An encoder run once, then several steps each with its own StepScope and backward through it:
    // the encoder's output `h` (its gradient kept to look at) was recorded before the scope, but its
    // gradient is made inside, in the step's memory. When the scope ends that memory goes back; h
    // must not keep pointing into it (the next step's values live there, and zero-filling h's
    // gradient overwrote them).
    Tape tape;
    TapeScope scope(tape);
    Parameter w(rand({64}, 1));
    Var h = tanh(w).retain_grad();
    const Tensor hv = h.value();
    for (int step = 1; step <= 4; ++step) {
        w.zero_grad();
        {
            StepScope step_scope;
            Var y = h;  // each step longer than the last: its values take the memory h's gradient had
            for (int i = 0; i < step; ++i) y = y * constant(Tensor::full(Shape{64}, 0.5f)) + 1.0f;
            sum(y * y).backward();
            // d/dw sum(y^2) with y = a h + b: 2 y a (1 - h^2), a = 0.5^step
            const double a = std::pow(0.5, step);
            for (std::size_t j = 0; j < 64; j += 7) {
                double yj = hv.data()[j];
                for (int i = 0; i < step; ++i) yj = yj * 0.5 + 1.0;
                const double expected = 2.0 * yj * a * (1.0 - double(hv.data()[j]) * hv.data()[j]);
                CHECK(w.grad().data()[j] == doctest::Approx(expected).epsilon(1e-5));
            }
            CHECK(h.grad().numel() == 64);  // inside the step it can be read
        }
        CHECK_THROWS_WITH_ALL(h.grad(), TapeError, "no gradient", "scope");  // its memory went with the step
        CHECK(max_abs_diff(h.value(), hv) == 0.0f);
    }
}

TEST_CASE("InferenceMode: a decoding loop that never clears runs in constant memory") {
    Tape tape;
    TapeScope scope(tape);
    Parameter w(rand({8, 8}, 1));
    Var kept = constant(rand({1, 8}, 2));  // made before: survives every scope
    Var inside;
    std::size_t values_after_first = 0, bytes_after_first = 0;
    for (int sentence = 0; sentence < 200; ++sentence) {
        InferenceMode inference;
        Var h = kept;
        for (int t = 0; t < 10; ++t) h = tanh(matmul(h, w));
        CHECK(tape.num_records() == 0);
        inside = h;
        if (sentence == 0) values_after_first = tape.num_values(), bytes_after_first = tape.arena().peak_bytes();
    }
    CHECK(tape.num_values() == 1);  // only `kept`
    CHECK(tape.arena().peak_bytes() == bytes_after_first);
    CHECK(values_after_first == 21);
    CHECK_THROWS_AS(inside.value(), TapeError);  // a value from inside a finished scope
    CHECK(kept.value().numel() == 8);
    CHECK(grad_enabled());  // restored
}

TEST_CASE("a rewind to a mark taken before a clear() clears") {
    Tape tape;
    TapeScope scope(tape);
    constant(Tensor(Shape{4}));
    const Tape::Mark m = tape.mark();
    tape.clear();
    Var x = constant(Tensor(Shape{4}));
    tape.rewind(m);
    CHECK(tape.num_values() == 0);
    CHECK_THROWS_AS(x.value(), TapeError);
}

namespace {

ModelConfig small_config() {
    ModelConfig c;
    c.src_vocab = 30;
    c.tgt_vocab = 31;
    c.emb = 8;
    c.hidden = 12;
    c.attn = 10;
    return c;
}

// Pairs of every length from 1 to `longest` words, in a shuffled order, like a real corpus.
std::vector<text::EncodedPair> varying_pairs(std::size_t n, std::size_t longest, std::uint64_t seed) {
    Generator g(seed);
    std::vector<text::EncodedPair> pairs(n);
    for (auto& p : pairs) {
        const std::size_t s = 1 + g.next_u64() % longest, t = 1 + g.next_u64() % longest;
        for (std::size_t j = 0; j < s; ++j) p.source.push_back(static_cast<std::int32_t>(4 + g.next_u64() % 26));
        p.source.push_back(text::Vocab::kEos);
        for (std::size_t j = 0; j < t; ++j) p.target.push_back(static_cast<std::int32_t>(4 + g.next_u64() % 27));
    }
    return pairs;
}

}  // namespace

TEST_CASE("training on batches of varying shapes: the arena's high-water mark is the largest step's, and stays") {
    Generator gen(3);
    RNNSearch model(small_config(), gen);
    Adam opt(model.named_parameters(), {.lr = 1e-3});
    const auto data = varying_pairs(240, 25, 5);
    Generator shuffle(9);
    const auto plan = text::plan_batches(data, 16, &shuffle);  // 15 batches of varying B x S x T
    Tape tape;
    TapeScope scope(tape);
    auto step = [&](const std::vector<std::size_t>& which) {
        tape.clear();
        opt.zero_grad();
        model.loss(text::make_batch(data, which)).backward();
        opt.step();
    };
    const std::size_t N = 3 * plan.size();
    for (std::size_t i = 0; i < N; ++i) step(plan[i % plan.size()]);
    const std::size_t peak_n = tape.arena().peak_bytes(), reserved_n = tape.arena().reserved_bytes();
    for (std::size_t i = N; i < 2 * N; ++i) step(plan[i % plan.size()]);
    CHECK(tape.arena().peak_bytes() == peak_n);          // flat: N more steps of the same shapes add nothing
    CHECK(tape.arena().reserved_bytes() == reserved_n);
    CHECK(tape.arena().num_blocks() == 1);

    // ... and that mark is exactly what the largest single step needs on a fresh tape: memory is
    // bounded by one step, not by the sum of the shapes seen.
    std::size_t largest = 0;
    for (const auto& which : plan) {
        Tape fresh;
        TapeScope s(fresh);
        model.loss(text::make_batch(data, which)).backward();
        largest = std::max(largest, fresh.arena().peak_bytes());
    }
    CHECK(peak_n == largest);
    CHECK(reserved_n <= largest * 3 / 2 + 64);  // the one block: the peak and half again, at most
}

TEST_CASE("a peak that creeps up step after step allocates a new block rarely, not every step") {
    // Training's first epoch meets its batch shapes in random order, so the peak grows by a little,
    // many times. Each new block is fresh memory, faulted in page by page: with blocks of exactly the
    // peak that was two allocations (a chained block, then the merge) every step that grew it.
    tg::Arena arena(1024);
    std::size_t need = 100'000;
    for (int step = 0; step < 40; ++step) {  // each step 5% more than the last: 7x over the 40
        arena.allocate(need / 2);
        arena.allocate(need - need / 2);
        arena.reset();
        need += need / 20;
    }
    MESSAGE("blocks allocated over 40 steps growing 5% each: " << arena.blocks_allocated());
    CHECK(arena.blocks_allocated() <= 16);
    CHECK(arena.reserved_bytes() <= arena.peak_bytes() * 3 / 2 + 64);
}

TEST_CASE("decoding a whole file leaves the caller's tape as it was, in the memory of one step") {
    Generator gen(4);
    RNNSearch model(small_config(), gen);
    const auto data = varying_pairs(64, 20, 6);
    Tape tape;
    TapeScope scope(tape);
    Var mine = constant(rand({3}, 1));  // the caller's own value on the active tape
    std::vector<std::vector<std::int32_t>> sources;
    for (const auto& p : data) sources.push_back(p.source);
    auto decode_all = [&] {
        for (std::size_t start = 0; start < sources.size(); start += 8)
            greedy(model, {sources.begin() + static_cast<std::ptrdiff_t>(start), sources.begin() + static_cast<std::ptrdiff_t>(start + 8)});
        beam_search(model, sources[0], 4);
    };
    decode_all();
    const std::size_t peak = tape.arena().peak_bytes();
    decode_all();
    CHECK(tape.num_values() == 1);
    CHECK(tape.num_records() == 0);
    CHECK(mine.value().numel() == 3);
    CHECK(tape.arena().peak_bytes() == peak);

    // One step's memory, not max_len steps': a decode 10 times longer needs no more of the arena.
    Tape fresh;
    TapeScope s(fresh);
    greedy(model, {sources[0]}, {.max_len = 5, .stop_at_eos = false});
    const std::size_t short_peak = fresh.arena().peak_bytes();
    greedy(model, {sources[0]}, {.max_len = 50, .stop_at_eos = false});
    CHECK(fresh.arena().peak_bytes() == short_peak);
}

TEST_CASE("a warmed-up greedy decode of a batch makes a few allocations, whatever its length") {
    Generator gen(4);
    RNNSearch model(small_config(), gen);
    const auto data = varying_pairs(16, 20, 7);
    std::vector<std::vector<std::int32_t>> sources;
    for (const auto& p : data) sources.push_back(p.source);
    Tape tape;
    TapeScope scope(tape);
    greedy(model, sources, {.max_len = 40, .stop_at_eos = false});  // warm-up: the arena grows to one step's size
    std::size_t before = tg::bench::allocations();
    auto out = greedy(model, sources, {.max_len = 40, .stop_at_eos = false});
    const std::size_t allocations = tg::bench::allocations() - before;
    MESSAGE("allocations for a greedy decode of 16 sentences, 40 steps: " << allocations);
    // What is returned (16 translations: their words and their attention matrices), the padded
    // batch, the encoder's few vectors, the packed output weight, the weight matrices packed once for
    // the decode (kernels/packed.hpp: one buffer each, and their list), the lists of the sentences
    // being decoded and the decoder's state (a list of tensors): none per step (it was ~450 when every
    // value took a slot).
    before = tg::bench::allocations();
    const std::vector<tg::Parameter*> weights = model.parameters();  // (what the packing scope is given)
    const std::size_t listing = tg::bench::allocations() - before;
    std::size_t matrices = 0;
    for (const tg::Parameter* p : weights) matrices += p->value().shape().rank() == 2;
    CHECK(allocations <= 2 * sources.size() + 26 + listing + 1 + matrices);
    out.clear();
    before = tg::bench::allocations();
    out = greedy(model, sources, {.max_len = 80, .stop_at_eos = false});
    CHECK(tg::bench::allocations() - before == allocations);  // twice the steps, the same count
}

TEST_CASE("a heap tensor grown a row at a time is reallocated a logarithmic number of times") {
    // A decoder's state outside the tape grows a row a step (the Transformer's cache of keys and
    // values): reallocated at every step, each step wrote its state into fresh memory.
    Tensor t;
    const std::size_t before = tg::bench::allocations();
    for (std::size_t rows = 1; rows <= 1000; ++rows) {
        t.resize({rows, 16});
        t.data()[t.numel() - 1] = static_cast<float>(rows);
    }
    const std::size_t allocations = tg::bench::allocations() - before;
    MESSAGE("allocations to grow a heap tensor from 1 to 1,000 rows, a row at a time: " << allocations);
    CHECK(allocations <= 20);  // half as much again each time: 18 (it was 1,000)
    CHECK(t.shape() == Shape{1000, 16});
    CHECK(t.numel() == 16000);
    t.resize({2, 3});  // smaller: the same memory, the new shape
    CHECK(t.numel() == 6);
    // On the tape (an arena), a tensor takes exactly what it asks: the arena's bump allocation has no
    // room to keep, and the step's memory is its values' sum.
    Arena arena;
    Tensor in_arena;
    in_arena.use_arena(&arena);
    in_arena.resize({4, 16});
    in_arena.resize({5, 16});
    CHECK(arena.bytes_in_use() == (4 + 5) * 16 * sizeof(float));
}

TEST_CASE("a warmed-up Transformer decode allocates nothing more per step for its growing cache") {
    Generator gen(8);
    ModelConfig c = small_config();  // (its vocabularies, which varying_pairs draws from)
    c.arch = "transformer";
    c.model_dim = 8, c.ff_dim = 12, c.heads = 2, c.layers = 2;
    const std::unique_ptr<TranslationModel> model = make_model(c, gen);
    const auto data = varying_pairs(8, 12, 5);
    std::vector<std::vector<std::int32_t>> sources;
    for (const auto& p : data) sources.push_back(p.source);
    Tape tape;
    TapeScope scope(tape);
    auto count = [&](std::size_t steps) {
        greedy(*model, sources, {.max_len = steps, .stop_at_eos = false});  // warm-up: the arena's size
        const std::size_t before = tg::bench::allocations();
        greedy(*model, sources, {.max_len = steps, .stop_at_eos = false});
        return tg::bench::allocations() - before;
    };
    const std::size_t short_run = count(40), long_run = count(160);
    MESSAGE("allocations for a greedy Transformer decode of 8 sentences, 40 and 160 steps: " << short_run << ", " << long_run);
    // A step makes two small tensors (its position's encoding and its mask); the cache, 3 tensors a
    // layer (keys, values, mask) kept between steps, grows by half again when full: 4 times as many
    // steps, about 3.4 more growths each. It was reallocated at every step: 8 allocations a step.
    CHECK(long_run - short_run <= 2 * 120 + 3 * c.layers * 4);
}

TEST_CASE("evaluating a file of every length grows the arena with its first batch only (longest first)") {
    // 600 pairs of 1 to 60 words: 10+ batches whose memory rises with their length. Shortest first,
    // each batch outgrew the last and the arena took a fresh block for it (and merged it, another):
    // fresh memory is paid in page faults (17% of beam search's time on the real-text demo, docs/performance.md).
    std::vector<text::SentencePair> pairs(600);
    for (std::size_t i = 0; i < pairs.size(); ++i)
        for (std::size_t k = 0; k <= i % 60; ++k) {
            pairs[i].source.push_back("s" + std::to_string((i + k) % 25));
            pairs[i].target.push_back("t" + std::to_string((i * k) % 25));
        }
    LoadedModel m;
    std::vector<text::Sentence> sources, targets;
    for (const auto& p : pairs) sources.push_back(p.source), targets.push_back(p.target);
    m.src_vocab = text::Vocab::build(sources, 1);
    m.tgt_vocab = text::Vocab::build(targets, 1);
    ModelConfig c = small_config();
    c.src_vocab = m.src_vocab.size();
    c.tgt_vocab = m.tgt_vocab.size();
    Generator gen(8);
    m.model = std::make_unique<RNNSearch>(c, gen);
    Tape tape;
    TapeScope scope(tape);
    std::size_t before = tape.arena().blocks_allocated();
    evaluate(m, pairs, nullptr, /*beam=*/3, /*bucket=*/10, false);
    const std::size_t first_batch_chain = tape.arena().blocks_allocated() - before;
    MESSAGE("arena blocks allocated while evaluating 600 sentences of 1-60 words: " << first_batch_chain);
    // The first batch chains blocks of doubling size up to its peak, then merges them into one; the
    // later, shorter batches fit. (Shortest first: 22 here.)
    CHECK(first_batch_chain <= 10);
    before = tape.arena().blocks_allocated();
    evaluate(m, pairs, nullptr, /*beam=*/3, /*bucket=*/10, false);
    CHECK(tape.arena().blocks_allocated() == before);  // warmed up: none at all
}
