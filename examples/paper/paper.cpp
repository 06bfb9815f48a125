// The paper's two central results at toy scale, in one command (make paper):
//   Figure 2: BLEU against sentence length. RNNsearch (attention) and RNNencdec (a fixed-length
//             context) are trained with the same time budget on sentences up to a length limit, and
//             tested on sentences up to well beyond it.
//   Figure 3: alignment matrices of test sentences, with the gold alignment marked.
// Writes OUT/bleu_vs_length.svg, OUT/alignment_*.svg, OUT/results.md and the data under OUT/data.
//   usage: paper [--quick] [--out DIR] [--threads N] [--minutes-per-model M]
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "args.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "decode.hpp"
#include "evaluate.hpp"
#include "io/files.hpp"
#include "tasks.hpp"
#include "text/metrics.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

using namespace translator;
using namespace tg;
namespace fs = std::filesystem;

namespace {

struct Setup {
    std::string task = "long";
    std::size_t train_max_len = 20, test_max_len = 50, bucket = 5;
    std::size_t train_pairs = 60000, valid_pairs = 500, test_per_bucket = 100;
    double seconds_per_model = 720;
    std::size_t emb = 64, hidden = 128, attn = 128, batch = 32;
    int threads = 2;
};

struct ModelResult {
    std::string name;
    Evaluation eval;
};

void write_split(const fs::path& prefix, const std::vector<Example>& examples) {
    std::vector<text::SentencePair> pairs;
    std::vector<text::Alignment> aligns;
    for (const Example& e : examples) {
        pairs.push_back(e.pair);
        aligns.push_back(e.alignment);
    }
    text::write_parallel(prefix.string() + ".tsv", pairs);
    text::write_alignments(prefix.string() + ".align", aligns);
}

// Figure 3: the attention while the model reads the reference, gold links outlined.
void draw_alignment(const fs::path& checkpoint, const Example& e, const fs::path& svg, const std::string& note) {
    const LoadedModel m = load_model(checkpoint);
    const auto data = text::encode_pairs(std::vector<text::SentencePair>{e.pair}, m.src_vocab, m.tgt_vocab);
    const viz::Matrix a = forced_attention(*m.model, data)[0];
    const Translation t = greedy(*m.model, {data[0].source})[0];
    std::vector<std::string> cols = e.pair.source, rows = e.pair.target;
    cols.push_back("</s>");
    rows.push_back("</s>");
    std::vector<std::pair<int, int>> marks;  // (row = target index, col = source index)
    for (const auto& [i, j] : e.alignment) marks.emplace_back(j, i);
    const std::string produced = text::join_words(m.tgt_vocab.decode(t.words));
    const std::string title = fmt::format("{} ({} words{})\nreference: {}\nmodel:     {}{}", text::join_words(e.pair.source),
                                          e.pair.source.size(), note, text::join_words(e.pair.target), produced,
                                          produced == text::join_words(e.pair.target) ? "  (exact)" : "");
    write_file_atomically(svg, viz::svg_heatmap(a, cols, rows, title, marks));
}

std::string row(const ModelResult& r, const std::string& label, const Scores& b) {
    return fmt::format("| {} | {} | {} | {:.2f} | {:.1f}% | {} |\n", r.name, label, b.sentences, b.bleu(), 100 * b.exact_match(),
                       r.eval.has_aer ? fmt::format("{:.3f}", b.alignment.aer()) : "-");
}

}  // namespace

int main(int argc, char** argv) {
    const auto start = std::chrono::steady_clock::now();
    Setup s;
    fs::path out = "build/paper";
    try {
        Args args("paper", "[--quick] [--out DIR] [--threads N] [--minutes-per-model M]",
                  {{"--quick", "", "a smaller run: 2 minutes per model, fewer test sentences", ""},
                   {"--out", "DIR", "where the figures, the table and the data go", "build/paper"},
                   {"--minutes-per-model", "M", "training time of each model (default 12, or 2 with --quick)", ""},
                   kThreadsOption},
                  Argv(argv + 1, argv + argc));
        if (args.flag("--quick")) {
            s.seconds_per_model = 120;
            s.test_per_bucket = 40;
            s.train_pairs = 30000;
        }
        if (args.given("--minutes-per-model")) s.seconds_per_model = 60 * args.number("--minutes-per-model", 0.05, 10000);
        out = args.text("--out");
        s.threads = static_cast<int>(args.integer("--threads", 1, 256));
        if (!args.given("--threads")) s.threads = 2;
    } catch (const HelpRequested& h) {
        std::fputs(h.usage.c_str(), stdout);
        return 0;
    } catch (const UsageError& e) {
        fmt::print(stderr, "paper: {}\n", e.what());
        return 2;
    }
    try {
        fs::create_directories(out / "data");
        fmt::print("== data: task '{}', training sentences of 1-{} words, test sentences of 1-{} words\n", s.task,
                   s.train_max_len, s.test_max_len);
        write_split(out / "data" / "train", generate(s.task, s.train_pairs, 1, 1, s.train_max_len, Split::train));
        write_split(out / "data" / "valid", generate(s.task, s.valid_pairs, 2, 1, s.train_max_len, Split::valid));
        std::vector<Example> test;
        for (std::size_t lo = 1; lo <= s.test_max_len; lo += s.bucket)  // the same number of sentences per length bucket
            for (Example& e : generate(s.task, s.test_per_bucket, 3 + lo, lo, lo + s.bucket - 1, Split::test)) test.push_back(std::move(e));
        write_split(out / "data" / "test", test);

        std::vector<ModelResult> results;
        for (const auto& [name, flags] : std::vector<std::pair<std::string, std::vector<std::string>>>{
                 {"RNNsearch", {}}, {"RNNencdec", {"--no-attention"}}}) {
            fmt::print("== training {} for {:.0f} s\n", name, s.seconds_per_model);
            std::fflush(stdout);
            const fs::path dir = out / name;
            fs::remove_all(dir);
            Argv train = {"--train", (out / "data" / "train.tsv").string(), "--valid", (out / "data" / "valid.tsv").string(),
                          "--out", dir.string(), "--epochs", "100000", "--time-limit", fmt::format("{}", s.seconds_per_model),
                          "--threads", std::to_string(s.threads), "--emb", std::to_string(s.emb), "--hidden",
                          std::to_string(s.hidden), "--attn", std::to_string(s.attn), "--batch", std::to_string(s.batch),
                          "--max-len", std::to_string(s.train_max_len + 20)};
            train.insert(train.end(), flags.begin(), flags.end());
            if (int status = cmd_train(train); status != 0) return status;
            fmt::print("== evaluating {} on {} test sentences\n", name, test.size());
            std::fflush(stdout);
            std::vector<text::SentencePair> pairs;
            std::vector<text::Alignment> gold;
            for (const Example& e : test) pairs.push_back(e.pair), gold.push_back(e.alignment);
            results.push_back({name, evaluate(load_model(dir), pairs, &gold, 1, s.bucket)});
        }

        // Figure 2: BLEU and exact match against source length.
        viz::LinePlot plot;
        plot.title = fmt::format("Translation quality against sentence length (task '{}')", s.task);
        plot.x_label = "source sentence length (words; bucket midpoint)";
        plot.y_label = "BLEU (solid), exact match % (dashed)";
        plot.x_min = 0;
        plot.x_max = static_cast<double>(s.test_max_len);
        plot.y_min = 0;
        plot.y_max = 100;
        plot.markers.emplace_back(static_cast<double>(s.train_max_len) + 0.5, "longest training sentence");
        const char* colors[] = {"#1f77b4", "#d62728"};
        for (std::size_t k = 0; k < results.size(); ++k) {
            viz::Series bleu{results[k].name + " BLEU", {}, {}, colors[k], false};
            viz::Series exact{results[k].name + " exact", {}, {}, colors[k], true};
            for (const auto& [b, bucket] : results[k].eval.by_length) {
                const double mid = static_cast<double>(b * s.bucket) + (static_cast<double>(s.bucket) + 1) / 2;
                bleu.x.push_back(mid);
                bleu.y.push_back(bucket.bleu());
                exact.x.push_back(mid);
                exact.y.push_back(100 * bucket.exact_match());
            }
            plot.series.push_back(bleu);
            plot.series.push_back(exact);
        }
        write_file_atomically(out / "bleu_vs_length.svg", viz::svg_line_plot(plot));

        // Figure 3: test sentences of growing length, one beyond the training lengths.
        std::size_t figure = 0;
        for (std::size_t want : {8u, 14u, 19u, 27u}) {
            for (const Example& e : test)
                if (e.pair.source.size() == want) {
                    draw_alignment(out / "RNNsearch", e, out / fmt::format("alignment_{}.svg", ++figure),
                                   want > s.train_max_len ? ", longer than any training sentence" : "");
                    break;
                }
        }

        // The table.
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::string md = fmt::format(
            "# RNNsearch against RNNencdec at toy scale\n\n"
            "Task `{}`; trained on {} pairs of 1-{} words (validation {} pairs), tested on {} sentences of 1-{} words "
            "({} per bucket of {} words), none seen in training. Both models: embeddings {}, GRU {} per direction, "
            "attention {}, batch {}, Adam 1e-3, clipping 1.0, {:.0f} s of training each on {} thread(s). "
            "Greedy decoding. Wall time of the whole run: {:.1f} min.\n\n"
            "| model | source length | sentences | BLEU | exact match | AER |\n|---|---|---|---|---|---|\n",
            s.task, s.train_pairs, s.train_max_len, s.valid_pairs, test.size(), s.test_max_len, s.test_per_bucket, s.bucket,
            s.emb, s.hidden, s.attn, s.batch, s.seconds_per_model, s.threads, wall / 60);
        for (const ModelResult& r : results) {
            md += row(r, "all", r.eval.all);
            for (const auto& [b, bucket] : r.eval.by_length) md += row(r, fmt::format("{}-{}", b * s.bucket + 1, (b + 1) * s.bucket), bucket);
        }
        write_file_atomically(out / "results.md", md);
        fmt::print("\n{}\nwrote {}/bleu_vs_length.svg, {} alignment matrices and {}/results.md in {:.1f} min\n", md,
                   out.string(), figure, out.string(), wall / 60);
        return 0;
    } catch (const UsageError& e) {
        fmt::print(stderr, "paper: {}\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "paper: {}\n", e.what());
        return 1;
    }
}
