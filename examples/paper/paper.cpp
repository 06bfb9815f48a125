// The paper's two central results at toy scale, in one command (make paper):
//   Figure 2: BLEU against sentence length. RNNsearch (attention) and RNNencdec (a fixed-length
//             context) are each trained with the same time budget on sentences of up to 20 words
//             and of up to 50 words (the paper's RNNsearch-30/-50 and RNNenc-30/-50), and tested
//             on sentences of up to 60 words.
//   Figure 3: alignment matrices of test sentences, with the gold alignment marked.
// Writes OUT/bleu_vs_length.svg, OUT/alignment_*.svg, OUT/results.md and the data under OUT/data.
//   usage: paper [--quick] [--out DIR] [--threads N] [--minutes-per-model M]
#include <fmt/core.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>

#include "args.hpp"
#include "kernels/threads.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "decode.hpp"
#include "evaluate.hpp"
#include "io/files.hpp"
#include "tasks.hpp"
#include "training.hpp"
#include "text/metrics.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

using namespace translator;
using namespace tg;
namespace fs = std::filesystem;

namespace {

struct Setup {
    std::string task = "long";
    std::array<std::size_t, 2> train_max_lens = {20, 50};  // the short and the long: a pair of models each
    std::size_t test_max_len = 60, bucket = 5;
    std::size_t train_pairs = 60000, valid_pairs = 500, test_per_bucket = 100;
    double seconds_per_model = 480;
    std::size_t emb = 64, hidden = 128, attn = 128, batch = 32;
    int threads = 2;
};

struct ModelResult {
    std::string name;  // e.g. RNNsearch-50: the architecture and the longest training sentence
    bool attention;
    std::size_t train_max_len;
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
                  {{"--quick", "", "a smaller run: 1.5 minutes per model, fewer test sentences", ""},
                   {"--out", "DIR", "where the figures, the table and the data go", "build/paper"},
                   {"--minutes-per-model", "M", "training time of each of the 4 models (default 8, or 1.5 with --quick)", ""},
                   kThreadsOption},
                  Argv(argv + 1, argv + argc));
        if (args.flag("--quick")) {
            s.seconds_per_model = 90;
            s.test_per_bucket = 40;
            s.train_pairs = 30000;
        }
        if (args.given("--minutes-per-model")) s.seconds_per_model = 60 * args.number("--minutes-per-model", 0.05, 10000);
        out = args.text("--out");
        s.threads = static_cast<int>(args.integer("--threads", 1, 256));
        if (!args.given("--threads")) s.threads = 2;
        tg::set_num_threads(s.threads);
    } catch (const HelpRequested& h) {
        std::fputs(h.usage.c_str(), stdout);
        return 0;
    } catch (const UsageError& e) {
        fmt::print(stderr, "paper: {}\n", e.what());
        return 2;
    }
    try {
        const fs::path data = out / "data";
        fs::create_directories(data);
        fmt::print("== data: task '{}', training sentences of 1-{} and 1-{} words, test sentences of 1-{} words\n", s.task,
                   s.train_max_lens[0], s.train_max_lens[1], s.test_max_len);
        for (std::size_t len : s.train_max_lens) {
            write_split(data / fmt::format("train_{}", len), generate(s.task, s.train_pairs, 1, 1, len, Split::train));
            write_split(data / fmt::format("valid_{}", len), generate(s.task, s.valid_pairs, 2, 1, len, Split::valid));
        }
        std::vector<Example> test;
        for (std::size_t lo = 1; lo <= s.test_max_len; lo += s.bucket)  // the same number of sentences per length bucket
            for (Example& e : generate(s.task, s.test_per_bucket, 3 + lo, lo, lo + s.bucket - 1, Split::test)) test.push_back(std::move(e));
        write_split(data / "test", test);
        std::vector<text::SentencePair> test_pairs;
        std::vector<text::Alignment> gold;
        for (const Example& e : test) test_pairs.push_back(e.pair), gold.push_back(e.alignment);

        std::vector<ModelResult> results;
        for (std::size_t len : s.train_max_lens)
            for (bool attention : {true, false}) {
                ModelResult r{fmt::format("{}-{}", attention ? "RNNsearch" : "RNNencdec", len), attention, len, {}};
                fmt::print("== training {} for {:.0f} s\n", r.name, s.seconds_per_model);
                std::fflush(stdout);
                const fs::path dir = out / r.name;  // a checkpoint from an earlier run of paper is replaced (force)
                TrainOptions train;
                train.train = data / fmt::format("train_{}.tsv", len);
                train.valid = data / fmt::format("valid_{}.tsv", len);
                train.out = dir;
                train.force = true;
                train.epochs = 100000;
                train.time_limit = s.seconds_per_model;
                train.emb = s.emb;
                train.hidden = s.hidden;
                if (attention) train.attn = s.attn;  // (a size of the attention: none in RNNencdec)
                train.batch = s.batch;
                train.max_len = len + 20;
                train.attention = attention ? "additive" : "none";
                TrainHooks hooks;  // a line per validation; no progress bar between figures' headings
                hooks.epoch_end = [](const EpochReport& e) {
                    fmt::print("{}\n", epoch_line(e));
                    std::fflush(stdout);
                };
                const TrainResult trained = translator::train(train, hooks);
                fmt::print("{} after {} steps; best valid loss {:.4f}\n", trained.stop_reason, trained.steps,
                           trained.best_valid_loss);
                fmt::print("== evaluating {} on {} test sentences\n", r.name, test.size());
                std::fflush(stdout);
                r.eval = evaluate(load_model(dir), test_pairs, &gold, 1, s.bucket);
                results.push_back(std::move(r));
            }

        // Figure 2: BLEU against source length; a colour per architecture, dashed for the shorter training.
        viz::LinePlot plot;
        plot.title = fmt::format("Translation quality against sentence length (task '{}')", s.task);
        plot.x_label = "source sentence length (words; bucket midpoint)";
        plot.y_label = "BLEU";
        plot.x_min = 0;
        plot.x_max = static_cast<double>(s.test_max_len);
        plot.y_min = 0;
        plot.y_max = 100;
        for (std::size_t len : s.train_max_lens)
            plot.markers.emplace_back(static_cast<double>(len) + 0.5, fmt::format("trained ≤ {}", len));
        for (const ModelResult& r : results) {
            viz::Series bleu{r.name, {}, {}, r.attention ? "#1f77b4" : "#d62728", r.train_max_len < s.train_max_lens.back()};
            for (const auto& [b, bucket] : r.eval.by_length) {
                bleu.x.push_back(static_cast<double>(b * s.bucket) + (static_cast<double>(s.bucket) + 1) / 2);
                bleu.y.push_back(bucket.bleu());
            }
            plot.series.push_back(bleu);
        }
        write_file_atomically(out / "bleu_vs_length.svg", viz::svg_line_plot(plot));

        // Figure 3: test sentences of growing length, from RNNsearch-20 (the last beyond its training
        // lengths) and one long sentence from RNNsearch-50.
        std::size_t figure = 0;
        for (const auto& [model_len, want] : std::vector<std::pair<std::size_t, std::size_t>>{
                 {s.train_max_lens[0], 8}, {s.train_max_lens[0], 14}, {s.train_max_lens[0], 19}, {s.train_max_lens[0], 27},
                 {s.train_max_lens[1], 45}}) {
            for (const Example& e : test)
                if (e.pair.source.size() == want) {
                    const std::string model = fmt::format("RNNsearch-{}", model_len);
                    draw_alignment(out / model, e, out / fmt::format("alignment_{}.svg", ++figure),
                                   fmt::format(", {}{}", model, want > model_len ? ", longer than any training sentence" : ""));
                    break;
                }
        }

        // The table.
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::string md = fmt::format(
            "# RNNsearch against RNNencdec at toy scale\n\n"
            "Task `{}`; the -{} models trained on {} pairs of 1-{} words, the -{} models on {} pairs of 1-{} words "
            "(validation {} pairs each), all tested on the same {} sentences of 1-{} words "
            "({} per bucket of {} words), none seen in training. All models: embeddings {}, GRU {} per direction, "
            "attention {}, batch {}, Adam 1e-3, clipping 1.0, {:.0f} s of training each on {} thread(s). "
            "Greedy decoding. Wall time of the whole run: {:.1f} min.\n\n"
            "| model | source length | sentences | BLEU | exact match | AER |\n|---|---|---|---|---|---|\n",
            s.task, s.train_max_lens[0], s.train_pairs, s.train_max_lens[0], s.train_max_lens[1], s.train_pairs, s.train_max_lens[1],
            s.valid_pairs, test.size(), s.test_max_len, s.test_per_bucket, s.bucket,
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
