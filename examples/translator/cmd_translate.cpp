// translator translate (stdin to stdout) and translator attention (one sentence's alignment
// matrix as SVG and CSV, like the paper's Figure 3).
#include <fmt/core.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "args.hpp"
#include "kernels/threads.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "decode.hpp"
#include "outputs.hpp"
#include "viz/heatmap.hpp"

namespace translator {

using namespace tg;

namespace {

// `units`: the source as the model reads it (words, or subword pieces). `packed`: the model's output
// weight packed once for all the sentences of a run.
Translation translate_one(const LoadedModel& m, const text::Sentence& units, std::size_t beam, const PackedWeight& packed) {
    const std::vector<std::int32_t> ids = m.src_vocab.encode(units, true);
    return beam > 1 ? beam_search(*m.model, ids, beam, {.packed_output = &packed}) : greedy(*m.model, {ids}, {.packed_output = &packed})[0];
}

// An attention matrix with its labels: rows are what was written (and </s>), columns what was read
// (and </s>); for a subword model, pieces, or with `words` the pieces merged into words: a word's
// columns are added up (the attention it received) and its rows averaged (each row still sums to 1).
struct Labelled {
    viz::Matrix attention;
    std::vector<std::string> rows, cols;
};

Labelled labelled(const LoadedModel& m, const text::Sentence& units, const Translation& t, bool words) {
    Labelled l{t.attention, {}, {}};
    for (std::int32_t id : t.words) l.rows.push_back(m.tgt_vocab.word(id));
    if (t.finished) l.rows.push_back("</s>");
    for (const std::string& w : units) l.cols.push_back(m.src_vocab.contains(w) ? w : w + " (<unk>)");
    l.cols.push_back("</s>");
    if (!words || !m.subwords()) return l;
    auto group = [](const std::vector<std::string>& labels, std::size_t n) {  // piece -> word index, </s> its own
        std::vector<std::string> pieces(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(std::min(n, labels.size())));
        std::vector<std::size_t> g = Subwords::word_of_piece(pieces);
        const std::size_t next = g.empty() ? 0 : g.back() + 1;
        for (std::size_t i = pieces.size(); i < labels.size(); ++i) g.push_back(next + (i - pieces.size()));
        return g;
    };
    auto merged_labels = [](const std::vector<std::string>& labels, const std::vector<std::size_t>& g) {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < labels.size(); ++i) {
            std::string piece = labels[i];
            if (piece.rfind(Subwords::kWordStart, 0) == 0) piece.erase(0, std::strlen(Subwords::kWordStart));
            if (g[i] >= out.size()) out.push_back(piece);
            else out[g[i]] += piece;
        }
        return out;
    };
    const std::vector<std::size_t> gr = group(l.rows, t.words.size()), gc = group(l.cols, units.size());
    const std::vector<std::string> rows = merged_labels(l.rows, gr), cols = merged_labels(l.cols, gc);
    viz::Matrix w;
    w.rows = rows.size();
    w.cols = cols.size();
    w.values.assign(w.rows * w.cols, 0.0f);
    std::vector<float> pieces_in_row(w.rows, 0.0f);
    for (std::size_t r = 0; r < t.attention.rows && r < gr.size(); ++r) {
        pieces_in_row[gr[r]] += 1.0f;
        for (std::size_t c = 0; c < t.attention.cols && c < gc.size(); ++c) w.values[gr[r] * w.cols + gc[c]] += t.attention.at(r, c);
    }
    for (std::size_t r = 0; r < w.rows; ++r)
        for (std::size_t c = 0; c < w.cols; ++c) w.values[r * w.cols + c] /= std::max(pieces_in_row[r], 1.0f);
    return {w, rows, cols};
}

}  // namespace

int cmd_translate(const Argv& argv) {
    Args args("translate", "--checkpoint DIR [--beam K] [--show-attention]  < sentences",
              {{"--checkpoint", "DIR", "the model", "", true},
               kBeamOption,
               {"--show-attention", "", "also draw each sentence's attention matrix", ""},
               {"--words", "", "with --show-attention and a subword model: merge each word's pieces", ""},
               kMaxWordsOption,
               kThreadsOption},
              argv);
    const std::size_t longest = max_words(args);
    const auto beam = static_cast<std::size_t>(beam_width(args));
    apply_threads(args);
    const LoadedModel m = load_model(args.text("--checkpoint"));
    const bool show = args.flag("--show-attention");
    if (show && !m.model->attention) throw UsageError("--show-attention: this checkpoint has no attention (RNNencdec)");
    const PackedWeight packed(m.model->output.weight.value());
    std::string line;
    // Lines are read as every file reader reads them (CRLF and a BOM dropped; a line of invalid UTF-8
    // or over the length limit refused, naming it), and never held beyond that limit.
    for (std::size_t n = 1; text::read_line(std::cin, line, "stdin", n); ++n) {
        const text::Sentence words = text::split_words(line);
        if (words.empty()) {
            fmt::print("\n");
            continue;
        }
        if (words.size() > longest)
            throw FileError(fmt::format("stdin:{}: a sentence of {} words; sentences of more than {} are refused (--max-words)",
                                        n, words.size(), longest));
        const text::Sentence units = m.source_units(words);
        const Translation t = translate_one(m, units, beam, packed);
        fmt::print("{}\n", m.target_text(t.words));
        if (show) {
            const Labelled l = labelled(m, units, t, args.flag("--words"));
            fmt::print("{}\n", viz::terminal_heatmap(l.attention, l.cols, l.rows, ::isatty(STDOUT_FILENO) != 0));
        }
        if (std::fflush(stdout) != 0)  // a full disk or a closed pipe: stop now, with status 1
            throw FileError(fmt::format("stdout: write error after {} lines: {}", n - 1, std::strerror(errno)));
    }
    return 0;
}

int cmd_attention(const Argv& argv) {
    Args args("attention", "--checkpoint DIR --source \"SENTENCE\" --svg OUT.svg [--csv OUT.csv]",
              {{"--checkpoint", "DIR", "the model", "", true},
               {"--source", "SENTENCE", "the sentence to translate, words separated by spaces", "", true},
               {"--svg", "OUT.svg", "the alignment matrix as an SVG picture", "", true},
               {"--csv", "OUT.csv", "the weights as CSV: a row per target word, a column per source word", ""},
               {"--words", "", "for a subword model: merge each word's pieces (columns added, rows averaged)", ""},
               kBeamOption},
              argv);
    const auto beam = static_cast<std::size_t>(beam_width(args));
    const std::vector<std::filesystem::path> inputs = {args.text("--checkpoint"), args.text("--checkpoint") + ".old"};
    check_file_output(args.text("--svg"), "--svg", inputs);
    if (args.given("--csv")) {
        check_file_output(args.text("--csv"), "--csv", inputs);
        if (same_file(args.text("--csv"), args.text("--svg")))
            throw UsageError(fmt::format("--csv {}: the same file as --svg {}", args.text("--csv"), args.text("--svg")));
    }
    const text::Sentence words = text::split_words(args.text("--source"));
    if (words.empty()) throw UsageError("--source: the sentence is empty");
    const LoadedModel m = load_model(args.text("--checkpoint"));
    if (!m.model->attention) throw UsageError("--checkpoint: this model has no attention (RNNencdec): nothing to draw");
    const text::Sentence units = m.source_units(words);
    const Translation t = translate_one(m, units, beam, PackedWeight(m.model->output.weight.value()));
    const Labelled l = labelled(m, units, t, args.flag("--words"));
    const auto& [attention, rows, cols] = l;
    const std::string translation = m.target_text(t.words);
    write_file_atomically(args.text("--svg"),
                          viz::svg_heatmap(attention, cols, rows, text::join_words(words) + "\n→ " + translation));
    if (args.given("--csv")) {
        auto quote = [](const std::string& s) {  // RFC 4180: quoted, a quote inside doubled
            std::string q = "\"";
            for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            return q + '"';
        };
        std::string csv = "target";
        for (const std::string& c : cols) csv += "," + quote(c);
        csv += '\n';
        for (std::size_t r = 0; r < attention.rows; ++r) {
            csv += quote(rows[r]);
            for (std::size_t c = 0; c < attention.cols; ++c) csv += fmt::format(",{:.6f}", attention.at(r, c));
            csv += '\n';
        }
        write_file_atomically(args.text("--csv"), csv);
    }
    fmt::print("{}\nwrote {}{}\n", translation, args.text("--svg"), args.given("--csv") ? " and " + args.text("--csv") : "");
    return 0;
}

}  // namespace translator
