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
#include "views.hpp"
#include "viz/heatmap.hpp"

namespace translator {

using namespace tg;

namespace {

// --layer N --head H: which of the Transformer's attentions to draw (1-based; no --head: the layer's
// heads averaged). Neither given: the default view (decoding's own weights).
const OptionSpec kLayerOption{"--layer", "N", "the Transformer: draw layer N's cross-attention (default: the last)", ""};
const OptionSpec kHeadOption{"--head", "H", "the Transformer: draw head H alone (default: the heads averaged)", ""};

AttentionView view_option(const Args& args, const ModelConfig& c) {
    AttentionView v;
    if (!args.given("--layer") && !args.given("--head")) return v;
    if (!c.is_transformer())
        throw UsageError(fmt::format("{}: chooses among the Transformer's attentions; this model ({}) has one",
                                     args.given("--layer") ? "--layer" : "--head", c.describe()));
    if (args.given("--layer")) v.layer = static_cast<int>(args.integer("--layer", 1, static_cast<long long>(c.layers))) - 1;
    if (args.given("--head")) v.head = static_cast<int>(args.integer("--head", 1, static_cast<long long>(c.heads))) - 1;
    return v;
}

}  // namespace

int cmd_translate(const Argv& argv) {
    Args args("translate", "--checkpoint DIR [--beam K] [--n-best N] [--alignment hard|soft] [--show-attention]  < sentences",
              {{"--checkpoint", "DIR", "the model", "", true},
               kBeamOption,
               {"--n-best", "N", "print the N best translations of each line, Moses' 'line ||| translation ||| score' (N <= --beam)", "1"},
               kLengthPenaltyOption,
               {"--alignment", "hard|soft", "print each translation's alignment after it, 'translation ||| alignment' (Marian's)", ""},
               {"--show-attention", "", "also draw each sentence's attention matrix", ""},
               {"--words", "", "with --show-attention and a subword model: merge each word's pieces", ""},
               kLayerOption,
               kHeadOption,
               kMaxWordsOption,
               kMaxPiecesOption,
               kThreadsOption},
              argv);
    const SourceLimits limits{max_words(args), max_pieces(args)};
    const auto beam = static_cast<std::size_t>(beam_width(args));
    const auto n_best = static_cast<std::size_t>(args.integer("--n-best", 1, 1000));
    if (n_best > beam)
        throw UsageError(fmt::format("--n-best {}: at most the beam's width (--beam {})", n_best, beam));
    DecodeOptions options;
    options.length_penalty = length_penalty(args, beam);
    const std::string alignment = args.given("--alignment") ? args.text("--alignment") : "";
    if (!alignment.empty() && alignment != "hard" && alignment != "soft")
        throw UsageError(fmt::format("--alignment {}: hard or soft", alignment));
    apply_threads(args);
    const LoadedModel m = load_model(args.text("--checkpoint"));
    const bool show = args.flag("--show-attention");
    if (show && !m.model->config.has_attention()) throw UsageError("--show-attention: this checkpoint has no attention (RNNencdec)");
    const AttentionView view = view_option(args, m.model->config);
    if (!view.is_default() && !show) throw UsageError(fmt::format("{}: with --show-attention", args.given("--layer") ? "--layer" : "--head"));
    if (!alignment.empty() && !m.model->config.has_attention()) throw UsageError("--alignment: this checkpoint has no attention (RNNencdec)");
    const PackedWeight packed(m.model->output_weight().value());
    options.packed_output = &packed;
    std::string line;
    // Lines are read as every file reader reads them (CRLF and a BOM dropped; a line of invalid UTF-8
    // or over the length limit refused, naming it), and never held beyond that limit.
    for (std::size_t n = 1; text::read_line(std::cin, line, "stdin", n); ++n) {
        const text::Sentence words = text::split_words(line);
        const auto [units, refused] = check_source(m, words, limits);
        if (!refused.empty()) throw FileError(fmt::format("stdin:{}: {}", n, refused));
        // An empty line is translated as empty, in the same format as any other (n-best: one entry).
        const std::vector<Translation> best = words.empty() ? std::vector<Translation>(1) : translate_one(m, units, beam, n_best, options);
        const Translation& t = best[0];
        for (const Translation& h : best) {  // Moses' n-best format numbers the lines from 0
            std::string out = m.target_text(h.words);
            if (!alignment.empty()) out += " ||| " + (words.empty() ? "" : alignment_text(labelled(m, units, h, true), alignment == "soft"));
            if (args.given("--n-best")) out = fmt::format("{} ||| {} ||| {:.6f}", n - 1, out, h.ranked);
            fmt::print("{}\n", out);
        }
        if (show && !words.empty()) {
            const Labelled l = labelled(m, units, in_view(m, units, t, view), args.flag("--words"));
            if (!view.is_default())
                fmt::print("layer {} of {}, {}\n", view.layer + 1, m.model->config.layers,
                           view.head < 0 ? "the heads averaged" : fmt::format("head {} of {}", view.head + 1, m.model->config.heads));
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
               kLayerOption,
               kHeadOption,
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
    if (!m.model->config.has_attention()) throw UsageError("--checkpoint: this model has no attention (RNNencdec): nothing to draw");
    const text::Sentence units = m.source_units(words);
    const PackedWeight packed(m.model->output_weight().value());
    const Translation t = translate_one(m, units, beam, 1, {.packed_output = &packed})[0];
    const AttentionView view = view_option(args, m.model->config);
    const Labelled l = labelled(m, units, in_view(m, units, t, view), args.flag("--words"));
    const auto& [attention, rows, cols] = l;
    const std::string translation = m.target_text(t.words);
    const std::string which = view.is_default() ? "" : fmt::format(" (layer {}, {})", view.layer + 1,
                                                                    view.head < 0 ? "heads averaged" : fmt::format("head {}", view.head + 1));
    write_file_atomically(args.text("--svg"),
                          viz::svg_heatmap(attention, cols, rows, text::join_words(words) + "\n→ " + translation + which));
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
