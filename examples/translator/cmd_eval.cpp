// translator eval: exact match, BLEU, AER and the same by source length; translator grads.
#include <fmt/core.h>

#include <map>

#include "args.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "autograd/threads.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "decode.hpp"
#include "evaluate.hpp"
#include "text/metrics.hpp"

namespace translator {

namespace fs = std::filesystem;
using namespace tg;

namespace {

std::string json(const Scores& s, bool with_aer) {
    std::string out = fmt::format("\"sentences\": {}, \"exact_match\": {:.6f}, \"bleu\": {:.4f}", s.sentences,
                                  s.exact_match(), s.bleu());
    if (with_aer) out += fmt::format(", \"aer\": {:.6f}", s.alignment.aer());
    return out;
}

}  // namespace

int cmd_eval(const Argv& argv) {
    Args args("eval", "--checkpoint DIR --data F.tsv [--align F.align] [--beam K] [--json]",
              {{"--checkpoint", "DIR", "the model to evaluate", "", true},
               {"--data", "F.tsv", "sentence pairs to translate and score", "", true},
               {"--align", "F.align", "gold alignments of --data: also report the alignment error rate", ""},
               kBeamOption,
               {"--json", "", "print one JSON object instead of text", ""},
               kThreadsOption},
              argv);
    const auto beam = static_cast<std::size_t>(beam_width(args));
    apply_threads(args);
    const LoadedModel m = load_model(args.text("--checkpoint"));
    const std::vector<text::SentencePair> pairs = text::read_parallel(args.text("--data"));
    const bool with_aer = args.given("--align");
    std::vector<text::Alignment> gold;
    if (with_aer) {
        if (!m.model->attention)
            throw UsageError("--align: this checkpoint is the no-attention baseline; it has no alignments to score");
        gold = text::read_alignments(args.text("--align"), &pairs);
    }
    const Evaluation e = evaluate(m, pairs, with_aer ? &gold : nullptr, beam);
    if (args.flag("--json")) {
        std::string by_length;
        for (const auto& [b, s] : e.by_length)
            by_length += fmt::format("{}{{\"bucket\": \"{}-{}\", \"min_len\": {}, \"max_len\": {}, {}}}", by_length.empty() ? "" : ", ",
                                     5 * b + 1, 5 * b + 5, 5 * b + 1, 5 * b + 5, json(s, with_aer));
        fmt::print("{{{}, \"beam\": {}, \"by_length\": [{}]}}\n", json(e.all, with_aer), beam, by_length);
        return 0;
    }
    auto line = [&](const std::string& label, const Scores& s) {
        fmt::print("{:<10} {:>9} {:>11.2f}% {:>8.2f}", label, s.sentences, 100.0 * s.exact_match(), s.bleu());
        if (with_aer) fmt::print(" {:>8.4f}", s.alignment.aer());
        fmt::print("\n");
    };
    fmt::print("{:<10} {:>9} {:>12} {:>8}{}\n", "length", "sentences", "exact match", "BLEU", with_aer ? "      AER" : "");
    for (const auto& [b, s] : e.by_length) line(fmt::format("{}-{}", 5 * b + 1, 5 * b + 5), s);
    line("all", e.all);
    return 0;
}

int cmd_grads(const Argv& argv) {
    Args args("grads", "--checkpoint DIR --data F.tsv --out DIR",
              {{"--checkpoint", "DIR", "the model", "", true},
               {"--data", "F.tsv", "sentence pairs: all lines form one batch", "", true},
               {"--out", "DIR", "writes DIR/<parameter name>.npy, each parameter's gradient", "", true}},
              argv);
    const LoadedModel m = load_model(args.text("--checkpoint"));
    const std::vector<text::SentencePair> pairs = text::read_parallel(args.text("--data"));
    const auto data = text::encode_pairs(pairs, m.src_vocab, m.tgt_vocab);
    std::vector<std::size_t> all(data.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    const text::Batch batch = text::make_batch(data, all);  // in file order
    Tape tape;
    TapeScope scope(tape);
    m.model->zero_grad();
    Var loss = m.model->loss(batch);
    loss.backward();
    CheckpointWriter w(args.text("--out"));
    for (const auto& [name, p] : m.model->named_parameters()) w.add_tensor(name, p->grad());
    w.commit();
    fmt::print("loss {:.7f} over {} target tokens of {} sentences; gradients of {} parameters written to {}/\n", loss.item(),
               batch.target_tokens, batch.size, m.model->named_parameters().size(), args.text("--out"));
    return 0;
}

}  // namespace translator
