// translator translate (stdin to stdout) and translator attention (one sentence's alignment
// matrix as SVG and CSV, like the paper's Figure 3).
#include <fmt/core.h>
#include <unistd.h>

#include <iostream>

#include "args.hpp"
#include "autograd/threads.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "decode.hpp"
#include "outputs.hpp"
#include "viz/heatmap.hpp"

namespace translator {

using namespace tg;

namespace {

Translation translate_one(const LoadedModel& m, const text::Sentence& words, std::size_t beam) {
    const std::vector<std::int32_t> ids = m.src_vocab.encode(words, true);
    return beam > 1 ? beam_search(*m.model, ids, beam) : greedy(*m.model, {ids})[0];
}

// Row labels (the translation and its </s>) and column labels (the source and its </s>).
std::pair<std::vector<std::string>, std::vector<std::string>> labels(const LoadedModel& m, const text::Sentence& words,
                                                                     const Translation& t) {
    std::vector<std::string> rows, cols;
    for (std::int32_t id : t.words) rows.push_back(m.tgt_vocab.word(id));
    if (t.finished) rows.push_back("</s>");
    for (const std::string& w : words) cols.push_back(m.src_vocab.contains(w) ? w : w + " (<unk>)");
    cols.push_back("</s>");
    return {rows, cols};
}

}  // namespace

int cmd_translate(const Argv& argv) {
    Args args("translate", "--checkpoint DIR [--beam K] [--show-attention]  < sentences",
              {{"--checkpoint", "DIR", "the model", "", true},
               kBeamOption,
               {"--show-attention", "", "also draw each sentence's attention matrix", ""},
               kMaxWordsOption,
               kThreadsOption},
              argv);
    const auto max_words = static_cast<std::size_t>(args.integer("--max-words", 1, 1'000'000));
    const auto beam = static_cast<std::size_t>(beam_width(args));
    apply_threads(args);
    const LoadedModel m = load_model(args.text("--checkpoint"));
    const bool show = args.flag("--show-attention");
    if (show && !m.model->attention) throw UsageError("--show-attention: this checkpoint has no attention (RNNencdec)");
    std::string line;
    for (std::size_t n = 1; std::getline(std::cin, line); ++n) {
        text::clean_line(line, n == 1);  // CRLF and a BOM, as every file reader does
        const text::Sentence words = text::split_words(line);
        if (words.empty()) {
            fmt::print("\n");
            continue;
        }
        if (words.size() > max_words)
            throw FileError(fmt::format("stdin:{}: a sentence of {} words; sentences of more than {} are refused (--max-words)",
                                        n, words.size(), max_words));
        const Translation t = translate_one(m, words, beam);
        fmt::print("{}\n", text::join_words(m.tgt_vocab.decode(t.words)));
        if (show) {
            auto [rows, cols] = labels(m, words, t);
            fmt::print("{}\n", viz::terminal_heatmap(t.attention, cols, rows, ::isatty(STDOUT_FILENO) != 0));
        }
        std::fflush(stdout);
    }
    return 0;
}

int cmd_attention(const Argv& argv) {
    Args args("attention", "--checkpoint DIR --source \"SENTENCE\" --svg OUT.svg [--csv OUT.csv]",
              {{"--checkpoint", "DIR", "the model", "", true},
               {"--source", "SENTENCE", "the sentence to translate, words separated by spaces", "", true},
               {"--svg", "OUT.svg", "the alignment matrix as an SVG picture", "", true},
               {"--csv", "OUT.csv", "the weights as CSV: a row per target word, a column per source word", ""},
               kBeamOption},
              argv);
    const auto beam = static_cast<std::size_t>(beam_width(args));
    check_file_output(args.text("--svg"), "--svg", {});
    if (args.given("--csv")) check_file_output(args.text("--csv"), "--csv", {args.text("--svg")});
    const text::Sentence words = text::split_words(args.text("--source"));
    if (words.empty()) throw UsageError("--source: the sentence is empty");
    const LoadedModel m = load_model(args.text("--checkpoint"));
    if (!m.model->attention) throw UsageError("--checkpoint: this model has no attention (RNNencdec): nothing to draw");
    const Translation t = translate_one(m, words, beam);
    auto [rows, cols] = labels(m, words, t);
    const std::string translation = text::join_words(m.tgt_vocab.decode(t.words));
    write_file_atomically(args.text("--svg"),
                          viz::svg_heatmap(t.attention, cols, rows, text::join_words(words) + "\n→ " + translation));
    if (args.given("--csv")) {
        auto quote = [](const std::string& s) {  // RFC 4180: quoted, a quote inside doubled
            std::string q = "\"";
            for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            return q + '"';
        };
        std::string csv = "target";
        for (const std::string& c : cols) csv += "," + quote(c);
        csv += '\n';
        for (std::size_t r = 0; r < t.attention.rows; ++r) {
            csv += quote(rows[r]);
            for (std::size_t c = 0; c < t.attention.cols; ++c) csv += fmt::format(",{:.6f}", t.attention.at(r, c));
            csv += '\n';
        }
        write_file_atomically(args.text("--csv"), csv);
    }
    fmt::print("{}\nwrote {}{}\n", translation, args.text("--svg"), args.given("--csv") ? " and " + args.text("--csv") : "");
    return 0;
}

}  // namespace translator
