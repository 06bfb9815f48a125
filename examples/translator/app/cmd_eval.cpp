// translator eval: exact match, BLEU, chrF, AER and the same by source length; translator grads.
#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "args.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "kernels/threads.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "decode.hpp"
#include "evaluate.hpp"
#include "io/files.hpp"
#include "outputs.hpp"
#include "text/metrics.hpp"

namespace translator {

namespace fs = std::filesystem;
using namespace tg;

namespace {

std::string json(const Scores& s, bool with_aer) {
    std::string out = fmt::format("\"sentences\": {}, \"exact_match\": {:.6f}, \"bleu\": {:.4f}, \"chrf\": {:.4f}", s.sentences,
                                  s.exact_match(), s.bleu(), s.chrf());
    if (with_aer) out += fmt::format(", \"aer\": {:.6f}", s.alignment.aer());
    return out;
}

}  // namespace

int cmd_eval(const Argv& argv) {
    Args args("eval", "--checkpoint DIR --data F.tsv [--align F.align] [--beam K [--length-penalty A]] [--json] [--out-hyp F] [--out-align F]",
              {{"--checkpoint", "DIR", "the model to evaluate", "", true},
               {"--data", "F.tsv", "sentence pairs to translate and score", "", true},
               {"--align", "F.align", "gold alignments of --data: also report the alignment error rate", ""},
               kBeamOption,
               kLengthPenaltyOption,
               {"--json", "", "print one JSON object instead of text", ""},
               {"--out-hyp", "F.txt", "write every translation, a line per pair of --data", ""},
               {"--out-align", "F.align", "write the alignments AER scores (forced decoding of each reference), Pharaoh 'i-j'", ""},
               kMaxWordsOption,
               kThreadsOption},
              argv);
    const auto beam = static_cast<std::size_t>(beam_width(args));
    const double penalty = length_penalty(args, beam);
    apply_threads(args);
    const std::vector<fs::path> inputs = {args.text("--data"), args.text("--align"), args.text("--checkpoint"),
                                          args.text("--checkpoint") + ".old"};
    for (const char* option : {"--out-hyp", "--out-align"})
        if (args.given(option)) check_file_output(args.text(option), option, inputs);
    if (args.given("--out-hyp") && args.given("--out-align") && same_file(args.text("--out-hyp"), args.text("--out-align")))
        throw UsageError(fmt::format("--out-align {}: the same file as --out-hyp {}", args.text("--out-align"), args.text("--out-hyp")));
    const std::size_t longest = max_words(args);
    const LoadedModel m = load_model(args.text("--checkpoint"));
    if (args.given("--out-align") && !m.model->config.has_attention())
        throw UsageError("--out-align: this checkpoint is the no-attention baseline; it has no alignments");
    for (const char* option : {"--align", "--out-align"})
        if (args.given(option) && m.subwords())
            throw UsageError(fmt::format("{}: this model reads subword pieces, and alignments are between words", option));
    const bool with_aer = args.given("--align");
    if (with_aer && !m.model->config.has_attention())
        throw UsageError("--align: this checkpoint is the no-attention baseline; it has no alignments to score");

    // The file is read, translated and scored a chunk of lines at a time (and the outputs written as
    // they come, under temporary names renamed into place at the end): memory is one chunk's, however
    // long the file.
    const std::string data_name = args.text("--data"), align_name = args.text("--align");
    auto open = [](const std::string& name) {
        if (fs::is_directory(name)) throw FileError(fmt::format("{}: is a directory, not a file", name));
        auto in = std::make_unique<std::ifstream>(name, std::ios::binary);
        if (!*in) throw FileError(fmt::format("{}: cannot open: {}", name, std::strerror(errno)));
        return in;
    };
    const auto data = open(data_name);
    const auto align = with_aer ? open(align_name) : nullptr;
    std::optional<AtomicFile> hyp_out, align_out;
    if (args.given("--out-hyp")) hyp_out.emplace(args.text("--out-hyp"));
    if (args.given("--out-align")) align_out.emplace(args.text("--out-align"));
    Evaluator evaluator(m, with_aer, beam, 5, args.given("--out-align"), penalty);
    constexpr std::size_t kChunk = 2048;
    std::vector<text::SentencePair> pairs;
    std::vector<text::Alignment> gold;
    auto flush = [&] {
        const Evaluator::Chunk out = evaluator.add(pairs, with_aer ? &gold : nullptr);
        std::string text;
        if (hyp_out) {
            for (const std::string& h : out.hyps) text += h + '\n';
            hyp_out->write(text);
        }
        if (align_out) {
            text.clear();
            for (const text::Alignment& a : out.alignments) text += text::format_alignment(a) + '\n';
            align_out->write(text);
        }
        pairs.clear();
        gold.clear();
    };
    std::size_t n = 0;
    std::string line;
    while (text::read_line(*data, line, data_name, n + 1)) {
        ++n;
        text::SentencePair pair = text::parse_pair(line, data_name, n);
        if (pair.source.size() > longest)
            throw FileError(fmt::format("{}:{}: a source of {} words; sentences of more than {} are refused (--max-words)",
                                        data_name, n, pair.source.size(), longest));
        if (with_aer) {
            if (!text::read_line(*align, line, align_name, n))
                throw FileError(fmt::format("{}: {} lines of alignments for more sentence pairs", align_name, n - 1));
            gold.push_back(text::parse_alignment(line, align_name, n, &pair));
        }
        pairs.push_back(std::move(pair));
        if (pairs.size() == kChunk) flush();
    }
    if (n == 0) throw FileError(fmt::format("{}: no sentence pairs (the file is empty)", data_name));
    if (with_aer) {
        std::size_t lines = n;
        while (text::read_line(*align, line, align_name, lines + 1)) ++lines;
        if (lines != n) throw FileError(fmt::format("{}: {} lines of alignments for {} sentence pairs", align_name, lines, n));
    }
    if (!pairs.empty()) flush();
    if (hyp_out) hyp_out->commit();
    if (align_out) align_out->commit();
    const Evaluation& e = evaluator.result();
    if (args.flag("--json")) {
        std::string by_length;
        for (const auto& [b, s] : e.by_length)
            by_length += fmt::format("{}{{\"bucket\": \"{}-{}\", \"min_len\": {}, \"max_len\": {}, {}}}", by_length.empty() ? "" : ", ",
                                     5 * b + 1, 5 * b + 5, 5 * b + 1, 5 * b + 5, json(s, with_aer));
        // what was measured, in sacreBLEU's signature format
        const char* tokenize = e.detokenized ? "13a" : "none";
        std::string best;
        if (const auto* h = e.best_head())
            best = fmt::format("\"aer_best_head\": {{\"layer\": {}, \"head\": {}, \"aer\": {:.6f}}}, ", h->first.layer + 1,
                               h->first.head + 1, h->second.aer());
        fmt::print("{{{}, {}\"bleu_tokenize\": \"{}\", \"bleu_signature\": \"nrefs:1|case:mixed|eff:no|tok:{}|smooth:none\", "
                   "\"chrf_signature\": \"{}\", \"beam\": {}, \"length_penalty\": {}, \"by_length\": [{}]}}\n",
                   json(e.all, with_aer), best, tokenize, tokenize, text::kChrfSignature, beam,
                   penalty < 0 ? std::string("null") : fmt::format("{}", penalty), by_length);
        return 0;
    }
    auto print_row = [&](const std::string& label, const Scores& s) {
        fmt::print("{:<10} {:>9} {:>11.2f}% {:>8.2f} {:>8.2f}", label, s.sentences, 100.0 * s.exact_match(), s.bleu(), s.chrf());
        if (with_aer) fmt::print(" {:>8.4f}", s.alignment.aer());
        fmt::print("\n");
    };
    if (e.detokenized) fmt::print("BLEU on detokenized text, 13a tokenization (as sacreBLEU); lengths in source words\n");
    fmt::print("{:<10} {:>9} {:>12} {:>8} {:>8}{}\n", "length", "sentences", "exact match", "BLEU", "chrF2", with_aer ? "      AER" : "");
    for (const auto& [b, s] : e.by_length) print_row(fmt::format("{}-{}", 5 * b + 1, 5 * b + 5), s);
    print_row("all", e.all);
    if (const auto* h = e.best_head())
        fmt::print("AER above: the last layer's cross-attention, its {} heads averaged; the best single head: layer {} head {}, "
                   "AER {:.4f}\n", m.model->config.heads, h->first.layer + 1, h->first.head + 1, h->second.aer());
    return 0;
}

int cmd_grads(const Argv& argv) {
    Args args("grads", "--checkpoint DIR --data F.tsv --out DIR",
              {{"--checkpoint", "DIR", "the model", "", true},
               {"--data", "F.tsv", "sentence pairs: the loss and gradients of all lines together", "", true},
               {"--out", "DIR", "writes DIR/<parameter name>.npy, each parameter's gradient", "", true},
               {"--force", "", "replace a checkpoint of another kind at --out (a trained model)", ""},
               kMaxWordsOption},
              argv);
    const bool force = args.flag("--force");
    check_checkpoint_output(args.text("--out"), "--out", {args.text("--data"), args.text("--checkpoint")}, "gradients", force);
    CheckpointLock lock(args.text("--out"));
    const LoadedModel m = load_model(args.text("--checkpoint"));
    const std::vector<text::SentencePair> pairs = text::read_parallel(args.text("--data"));
    const std::size_t longest = max_words(args);
    for (std::size_t i = 0; i < pairs.size(); ++i)
        if (pairs[i].source.size() > longest || pairs[i].target.size() > longest)
            throw FileError(fmt::format("{}:{}: a side of more than {} words (--max-words)", args.text("--data"), i + 1, longest));
    const auto data = text::encode_pairs(to_units(pairs, m.src_subwords.get(), m.tgt_subwords.get()), m.src_vocab, m.tgt_vocab);
    // The loss over all lines is the mean over all their target tokens; it is computed in chunks of
    // lines (in file order), each chunk's gradient weighted by its share of the tokens, so memory is
    // that of one chunk however long the file (all lines as one batch needed 6.6 GB for 3,000 lines).
    constexpr std::size_t kChunk = 64;
    std::size_t tokens = 0;
    for (const auto& p : data) tokens += p.target.size() + 1;
    m.model->zero_grad();
    Tape tape;
    TapeScope scope(tape);
    double loss = 0;
    for (std::size_t start = 0; start < data.size(); start += kChunk) {
        std::vector<std::size_t> which;
        for (std::size_t i = start; i < std::min(data.size(), start + kChunk); ++i) which.push_back(i);
        const text::Batch batch = text::make_batch(data, which);
        tape.clear();
        const float share = static_cast<float>(batch.target_tokens) / static_cast<float>(tokens);
        Var chunk_loss = m.model->loss(batch);
        loss += static_cast<double>(chunk_loss.item()) * share;
        chunk_loss.backward(Tensor::scalar(share));  // d total / d chunk loss = its share of the tokens
    }
    CheckpointWriter w(args.text("--out"), "gradients", force);
    for (const auto& [name, p] : m.model->named_parameters()) w.add_tensor(name, p->grad());
    w.commit();
    fmt::print("loss {:.7f} over {} target tokens of {} sentences; gradients of {} parameters written to {}/\n", loss,
               tokens, data.size(), m.model->named_parameters().size(), args.text("--out"));
    return 0;
}

}  // namespace translator
