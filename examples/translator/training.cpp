// Training the translator (training.hpp): the loop, its checkpoints, and resuming exactly.
#include "training.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <functional>
#include <map>
#include <sstream>

#include "errors.hpp"
#include "autograd/error.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "checkpoint.hpp"
#include "decode.hpp"
#include "evaluate.hpp"
#include "io/files.hpp"
#include "kernels/packed.hpp"
#include "text/metrics.hpp"
#include "viz/plot.hpp"
#include "optim/adam.hpp"
#include "optim/schedule.hpp"
#include "app/outputs.hpp"  // the outputs checked before training starts, and --keep-last's

namespace translator {

namespace fs = std::filesystem;
using namespace tg;
using Clock = std::chrono::steady_clock;

namespace {

// The learning-rate decays train() knows (TrainOptions::lr_decay), and the metrics that pick the best.
bool known_lr_decay(const std::string& name) { return name == "none" || name == "linear" || name == "inverse-sqrt"; }
bool known_metric(const std::string& name) { return name == "loss" || name == "bleu" || name == "chrf"; }

// Where training stands, and the settings that must not change when it resumes.
struct TrainState {
    std::int64_t epoch = 0;  // epochs completed
    std::int64_t batch = 0;  // batches of the current epoch already done
    std::int64_t step = 0;   // optimizer steps
    double best_valid_loss = std::numeric_limits<double>::infinity();
    std::uint64_t seed = kTrainDefaults.seed;
    std::int64_t batch_size = static_cast<std::int64_t>(kTrainDefaults.batch);
    std::int64_t max_len = static_cast<std::int64_t>(kTrainDefaults.max_len);
    std::int64_t min_count = static_cast<std::int64_t>(kTrainDefaults.min_count);
    double lr = kTrainDefaults.lr, clip = kTrainDefaults.clip, dropout = kTrainDefaults.dropout,
           label_smoothing = kTrainDefaults.label_smoothing;
    std::string lr_decay = kTrainDefaults.lr_decay;
    std::int64_t warmup = kTrainDefaults.warmup;
    std::string train_data;  // the --train file's fingerprint ("" in states saved before it was kept)
    // The best checkpoint by `best_by` ("loss", "bleu", "chrf"): its score (higher is better: -loss for
    // the loss), and the validations since; `patience` > 0 stops training after that many (--early-stopping).
    std::string best_by = kTrainDefaults.best_by;
    double best_score = -std::numeric_limits<double>::infinity();
    std::int64_t since_best = 0, patience = 0;
    // The budget and the validations' spacing and keeping, as the run was given them.
    std::int64_t epochs = kTrainDefaults.epochs;
    double time_limit = kTrainDefaults.time_limit;
    std::int64_t valid_every = kTrainDefaults.valid_every;
    std::int64_t keep_last = static_cast<std::int64_t>(kTrainDefaults.keep_last);
    std::int64_t subwords = -1;  // --subwords the model was started with (-1: a state saved before it was kept)

    std::string str() const {
        return fmt::format("epoch {}\nbatch {}\nstep {}\nbest_valid_loss {:.17g}\nseed {}\nbatch_size {}\nmax_len {}\n"
                           "min_count {}\nlr {:.17g}\nclip {:.17g}\ndropout {:.17g}\nlabel_smoothing {:.17g}\nlr_decay {}\n"
                           "train_data {}\nwarmup {}\nbest_by {}\nbest_score {:.17g}\nsince_best {}\npatience {}\n"
                           "epochs {}\ntime_limit {:.17g}\nvalid_every {}\nkeep_last {}\nsubwords {}\n",
                           epoch, batch, step, best_valid_loss, seed, batch_size, max_len, min_count, lr, clip, dropout,
                           label_smoothing, lr_decay, train_data, warmup, best_by, best_score, since_best, patience,
                           epochs, time_limit, valid_every, keep_last, subwords);
    }
    static TrainState load(const fs::path& path) {
        std::map<std::string, std::string> kv;
        std::istringstream in(read_text(path));
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            const auto space = line.find(' ');
            if (space == std::string::npos) throw FileError(fmt::format("{}:{}: expected 'key value'", path.string(), n));
            kv[line.substr(0, space)] = line.substr(space + 1);
        }
        auto get = [&](const char* key) {
            auto it = kv.find(key);
            if (it == kv.end()) throw FileError(fmt::format("{}: missing '{}'", path.string(), key));
            return it->second;
        };
        try {
            TrainState s;
            s.epoch = std::stoll(get("epoch"));
            s.batch = std::stoll(get("batch"));
            s.step = std::stoll(get("step"));
            s.best_valid_loss = std::stod(get("best_valid_loss"));
            s.seed = std::stoull(get("seed"));
            s.batch_size = std::stoll(get("batch_size"));
            s.max_len = std::stoll(get("max_len"));
            s.min_count = std::stoll(get("min_count"));
            s.lr = std::stod(get("lr"));
            s.clip = std::stod(get("clip"));
            // (absent from states saved before dropout, label smoothing and the decay existed: off)
            s.dropout = kv.count("dropout") ? std::stod(kv["dropout"]) : 0.0;
            s.label_smoothing = kv.count("label_smoothing") ? std::stod(kv["label_smoothing"]) : 0.0;
            s.lr_decay = kv.count("lr_decay") ? kv["lr_decay"] : "none";
            s.train_data = kv.count("train_data") ? kv["train_data"] : "";
            // (absent from states saved before validation by BLEU and chrF: the best by loss)
            s.warmup = kv.count("warmup") ? std::stoll(kv["warmup"]) : 0;
            s.best_by = kv.count("best_by") ? kv["best_by"] : "loss";
            s.best_score = kv.count("best_score") ? std::stod(kv["best_score"]) : -s.best_valid_loss;
            s.since_best = kv.count("since_best") ? std::stoll(kv["since_best"]) : 0;
            s.patience = kv.count("patience") ? std::stoll(kv["patience"]) : 0;
            // (absent from states saved before they were kept: the defaults)
            if (kv.count("epochs")) s.epochs = std::stoll(kv["epochs"]);
            if (kv.count("time_limit")) s.time_limit = std::stod(kv["time_limit"]);
            if (kv.count("valid_every")) s.valid_every = std::stoll(kv["valid_every"]);
            if (kv.count("keep_last")) s.keep_last = std::stoll(kv["keep_last"]);
            if (kv.count("subwords")) s.subwords = std::stoll(kv["subwords"]);
            if (!known_metric(s.best_by))
                throw FileError(fmt::format("{}: best_by '{}' is none of loss, bleu, chrf", path.string(), s.best_by));
            if (!known_lr_decay(s.lr_decay))
                throw FileError(fmt::format("{}: lr_decay '{}' is not none, linear or inverse-sqrt", path.string(), s.lr_decay));
            return s;
        } catch (const std::logic_error&) {
            throw FileError(fmt::format("{}: a value is not a number", path.string()));
        }
    }
};

// Options that fix the model or the data are the checkpoint's when resuming: giving a different value
// is an error, not silently ignored.
void check_resume_options(const TrainOptions& o, const TrainState& state, const ModelConfig& c) {
    auto same = [&](const char* option, const auto& given, auto saved) {
        if (!given || static_cast<long long>(*given) == static_cast<long long>(saved)) return;
        throw UsageError(fmt::format("{} {}: the training being resumed has {} {}; a resumed training keeps its sizes, "
                                     "data and seed (start a new one with a new --out to change it)",
                                     option, *given, option, saved));
    };
    if (o.arch && *o.arch != c.arch)
        throw UsageError(fmt::format("--arch {}: the training being resumed is {}; a resumed training keeps its model", *o.arch, c.arch));
    same("--model-dim", o.model_dim, c.model_dim);
    same("--ff-dim", o.ff_dim, c.ff_dim);
    same("--layers", o.layers, c.layers);
    if (o.pre_norm && !c.pre_norm) throw UsageError("--pre-norm: the training being resumed is post-norm; a resumed training keeps its model");
    if (c.is_transformer()) same("--heads", o.heads, c.heads);
    same("--emb", o.emb, c.emb);
    same("--hidden", o.hidden, c.hidden);
    if (c.attention == "additive") same("--attn", o.attn, c.attn);
    if (c.attention == "multi_head") same("--heads", o.heads, c.heads);
    same("--encoder-hidden", o.encoder_hidden, c.encoder_size());
    same("--deep-output", o.deep_output, c.deep_output);
    same("--batch", o.batch, state.batch_size);
    same("--max-len", o.max_len, state.max_len);
    same("--min-count", o.min_count, state.min_count);
    same("--seed", o.seed, state.seed);
    if (o.tie_embeddings && !c.tie_embeddings)
        throw UsageError("--tie-embeddings: the training being resumed has separate output weights; a resumed training keeps its model");
    if (o.cell && *o.cell != c.cell)
        throw UsageError(fmt::format("--cell {}: the training being resumed has cell {}; a resumed training keeps its model",
                                     *o.cell, c.cell));
    if (o.attention && *o.attention != c.attention)
        throw UsageError(fmt::format("{}: the training being resumed has attention {}; a resumed training keeps its model",
                                     *o.attention == "none" ? "--no-attention" : "--attention " + *o.attention, c.attention));
    if (o.attn && c.attention != "additive")
        throw UsageError(fmt::format("--attn: the training being resumed has attention {}, which has no size A", c.attention));
    // (the same --subwords again, as a configuration file repeats it, is no change)
    if (o.subwords > 0 && static_cast<std::int64_t>(o.subwords) != state.subwords)
        throw UsageError(fmt::format("--subwords {}: a resumed training keeps the subword model it was started with ({})", o.subwords,
                                     state.subwords < 0 ? "of a size this checkpoint does not say" : state.subwords == 0 ? "none: whole words" : std::to_string(state.subwords)));
    if (o.early_stopping && *o.early_stopping != state.best_by)
        throw UsageError(fmt::format("--early-stopping {}: the training being resumed picks its best by {}; a resumed "
                                     "training keeps it", *o.early_stopping, state.best_by));
}

// The attention options of a new model, checked against each other before anything is built.
// Each architecture's own options, and no other's.
void check_arch_options(const ModelConfig& c, const TrainOptions& o) {
    if (c.arch != "rnnsearch" && c.arch != "transformer")
        throw UsageError(fmt::format("--arch {}: rnnsearch or transformer", c.arch));
    const bool transformer = c.is_transformer();
    auto only = [&](const char* option, bool given, bool for_transformer) {
        if (given && for_transformer != transformer)
            throw UsageError(fmt::format("{}: an option of {}, not of --arch {} (the Transformer's sizes are --model-dim, "
                                         "--ff-dim, --layers, --heads; RNNsearch's --emb, --hidden, ...)",
                                         option, for_transformer ? "--arch transformer" : "RNNsearch", c.arch));
    };
    only("--model-dim", o.model_dim.has_value(), true);
    only("--ff-dim", o.ff_dim.has_value(), true);
    only("--layers", o.layers.has_value(), true);
    only("--pre-norm", o.pre_norm, true);
    only("--emb", o.emb.has_value(), false);
    only("--hidden", o.hidden.has_value(), false);
    only("--attn", o.attn.has_value(), false);
    only("--encoder-hidden", o.encoder_hidden.has_value(), false);
    only("--deep-output", o.deep_output.has_value(), false);
    only("--cell", o.cell.has_value(), false);
    only(o.attention && *o.attention == "none" ? "--no-attention" : "--attention", o.attention.has_value(), false);
}

void check_attention_options(const ModelConfig& c, const TrainOptions& o) {
    const AttentionKind* kind = find_attention_kind(c.attention);
    if (!kind && c.attention != "none")
        throw UsageError(fmt::format("--attention {}: unknown; the score functions are {}, or none", c.attention,
                                     attention_kind_names()));
    if (o.attn && c.attention != "additive")
        throw UsageError(fmt::format("--attn: only additive attention has a size A (--attention {})", c.attention));
    if (o.heads && c.attention != "multi_head")
        throw UsageError(fmt::format("--heads: only multi_head attention has heads (--attention {})", c.attention));
    if (c.attention == "multi_head" && (c.heads == 0 || c.hidden % c.heads != 0))
        throw UsageError(fmt::format("--heads {}: multi_head attention's heads must divide --hidden {}", c.heads, c.hidden));
    if (c.encoder_size() == 0) throw UsageError("--encoder-hidden: must be at least 1 (--hidden 1 leaves H / 2 = 0 to dot attention)");
    if (kind && kind->equal_sizes && c.hidden != 2 * c.encoder_size())
        throw UsageError(fmt::format("--attention {} compares the decoder's state (--hidden {}) with the annotations (2 x "
                                     "--encoder-hidden {}): they must be equal (an even --hidden, --encoder-hidden H / 2)",
                                     c.attention, c.hidden, c.encoder_size()));
}

// The parameters, their gradients and Adam's two moments: 16 bytes a parameter. A model that cannot
// fit in this machine's memory is refused before anything is allocated (naming the sizes asked for),
// instead of failing later with std::bad_alloc or being killed by the kernel.
void check_model_fits(const ModelConfig& c, const TrainOptions& o) {
    const double have = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    auto refuse = [&](double n, const std::string& sizes) {
        const double need = 16 * n;
        if (have > 0 && need > 0.8 * have)
            throw UsageError(fmt::format("{}: a model of {:.3g} parameters needs {:.1f} GB for its weights, gradients and "
                                         "Adam's state; the limit is 80% of this machine's {:.1f} GB of memory ({:.1f} GB)",
                                         sizes.empty() ? "the model" : sizes, n, need / 1e9, have / 1e9, 0.8 * have / 1e9));
    };
    auto given = [](std::initializer_list<std::pair<const char*, std::optional<std::size_t>>> options) {
        std::string sizes;
        for (const auto& [option, value] : options)
            if (value) sizes += fmt::format("{}{} {}", sizes.empty() ? "" : " ", option, *value);
        return sizes;
    };
    if (c.is_transformer()) {  // embeddings, N encoder layers, N decoder layers, the output layer
        const double D = static_cast<double>(c.model_dim), F = static_cast<double>(c.ff_dim), N = static_cast<double>(c.layers);
        const double attention = 4 * (D * D + D), ff = 2 * D * F + F + D;
        const double n = static_cast<double>(c.src_vocab + c.tgt_vocab) * D + N * (attention + ff + 4 * D) +
                         N * (2 * attention + ff + 6 * D) + 4 * D + (c.tie_embeddings ? 0 : D * static_cast<double>(c.tgt_vocab)) +
                         static_cast<double>(c.tgt_vocab);
        refuse(n, given({{"--model-dim", o.model_dim}, {"--ff-dim", o.ff_dim}, {"--layers", o.layers}}));
        return;
    }
    const double E = static_cast<double>(c.emb), H = static_cast<double>(c.hidden), He = static_cast<double>(c.encoder_size());
    const double Vs = static_cast<double>(c.src_vocab), Vt = static_cast<double>(c.tgt_vocab);
    const double C = c.attention == "multi_head" ? H : 2 * He;  // the context's size
    const double gates = static_cast<double>(find_cell_kind(c.cell)->gates);
    auto cell = [&](double in, double h) { return gates * (h * in + h * h + 2 * h); };  // a cell of G gates
    const double features = c.deep_output ? static_cast<double>(c.deep_output) : H + C + E;
    double n = (Vs + Vt) * E + 2 * cell(E, He) + He * H + H + cell(E + C, H) + (c.tie_embeddings ? 0 : features * Vt) + Vt;
    if (c.deep_output) n += (H + C + E) * 2 * static_cast<double>(c.deep_output) + 2 * static_cast<double>(c.deep_output);
    // The attention's own parameters, whatever its score function: counted on one built alone (small
    // beside the rest; only built when the rest fits, so an absurd size is refused without allocating it).
    if (c.has_attention() && (have <= 0 || 16 * n <= 0.8 * have)) {
        Generator gen(0);
        n += static_cast<double>(make_attention(c.attention, {c.hidden, 2 * c.encoder_size(), c.attn, c.heads}, gen)->parameter_count());
    }
    refuse(n, given({{"--emb", o.emb}, {"--hidden", o.hidden}, {"--attn", o.attn}, {"--deep-output", o.deep_output}}));
}

// What resuming checks the --train file against: its size and a hash of its bytes.
std::string fingerprint(const std::string& bytes) { return fmt::format("{}-bytes-fnv1a-{:016x}", bytes.size(), fnv1a(bytes)); }

struct Validation {
    bool complete = true;  // false: stopped part way, by a stop request
    double loss = 0, accuracy = 0;
    double bleu = 0, chrf = 0;  // of greedy decoding
    double score(const std::string& metric) const { return metric == "bleu" ? bleu : metric == "chrf" ? chrf : -loss; }
    std::vector<ValidationExample> examples = {};  // the first few, as Joey NMT's reports show them
};

// Teacher-forced loss and next-word accuracy over a data set, without recording. Each batch runs in
// an InferenceMode on the active tape (the training tape, released by the last StepScope): no memory of
// its own. `stop` is polled between batches: a stop request ends a long validation at once.
Validation validate(const TranslationModel& model, const std::vector<text::EncodedPair>& data, const std::function<bool()>& stop) {
    double loss_sum = 0, right = 0, tokens = 0;
    for (const auto& which : text::plan_batches(data, 64, nullptr)) {
        if (stop && stop()) return {false, 0, 0};
        InferenceMode inference;
        const text::Batch batch = text::make_batch(data, which);
        const TranslationModel::Forward f = model.forward(batch);
        const float loss = cross_entropy(f.logits, f.targets, text::Vocab::kPad).item();
        loss_sum += static_cast<double>(loss) * static_cast<double>(batch.target_tokens);
        tokens += static_cast<double>(batch.target_tokens);
        const Tensor& l = f.logits.value();
        const std::size_t V = l.shape()[1];  // logits [N, V]: the non-pad positions, in order
        std::size_t n = 0;
        for (std::int32_t target : batch.decoder_target) {
            if (target == text::Vocab::kPad) continue;
            const float* row = l.data() + n++ * V;
            right += std::max_element(row, row + V) - row == target ? 1.0 : 0.0;
        }
    }
    return {true, loss_sum / std::max(tokens, 1.0), right / std::max(tokens, 1.0)};
}

// Why training stopped on a loss or gradient norm that is not finite: the batch is replayed in
// anomaly mode to name the first op whose forward or backward made a NaN or Inf. Nothing is saved,
// so the last good checkpoint stays as it is.
std::string not_finite_report(float loss, float norm, std::int64_t step, const TranslationModel& model, const text::Batch& batch,
                              Generator dropout_stream, const fs::path& out) {
    std::string culprit = "no single op produced it (the parameters are no longer finite)";
    Tape tape;
    TapeScope scope(tape);
    AnomalyModeGuard anomaly;
    try {
        model.loss(batch, &dropout_stream).backward();  // (the step's own dropout: a copy of its stream as it began)
    } catch (const AnomalyError& e) {
        culprit = e.what();
    }
    return fmt::format("training stopped at step {}: the {} is not finite ({}); {}; the last good checkpoint in {}/ is "
                       "unchanged", step, std::isfinite(loss) ? "gradient norm" : "loss", std::isfinite(loss) ? norm : loss,
                       culprit, out.string());
}

}  // namespace

std::string clock_text(double seconds) {
    const auto s = static_cast<long long>(std::max(0.0, seconds));
    return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string epoch_line(const EpochReport& e) {
    if (!e.validated)
        return fmt::format("epoch {:>6.2f}  step {:>6}  validation stopped part way{}  ({} elapsed)", e.epochs_done, e.step,
                           e.saved ? "; training state saved" : "; NOT saved", clock_text(e.seconds));
    return fmt::format("epoch {:>6.2f}  step {:>6}  valid loss {:.4f}  valid accuracy {:.2f}%  BLEU {:.2f}  chrF2 {:.2f}  lr {:.3g}{}  ({} elapsed)",
                       e.epochs_done, e.step, e.valid_loss, 100 * e.valid_accuracy, e.bleu, e.chrf, e.lr,
                       !e.saved ? (e.best ? "  best, NOT saved" : "  NOT saved") : e.best ? "  best, saved" : "",
                       clock_text(e.seconds));
}

namespace {

// Everything a training run holds once it is set up.
struct Run {
    TrainState state;
    std::unique_ptr<TranslationModel> model;
    text::Vocab src_vocab, tgt_vocab;
    std::shared_ptr<const Subwords> src_subwords, tgt_subwords;
    std::vector<text::EncodedPair> train, valid;
    std::vector<std::string> valid_references;  // the validation targets as text, for BLEU and chrF
    std::vector<std::string> valid_sources;     // and their sources, for the reports' examples
    std::string log;       // log.jsonl: a line per validation, of this training and those it resumes
    fs::path resume_from;  // the folder resumed from ("" for a new training)
};

// BLEU and chrF of greedy decoding of the validation sources, as `translator eval` scores them (a
// subword model's translations as text, with 13a tokens for BLEU). False when a stop cut it short.
bool score_translations(const Run& run, Validation& v, const std::function<bool()>& stop) {
    const PackedWeight packed(run.model->output_weight().value());  // once for the whole validation set
    const auto ids = translate_all(*run.model, run.valid, 1, packed, stop);
    if (!ids) return false;
    text::BleuStats bleu;
    text::ChrfStats chrf;
    const bool subwords = run.tgt_subwords != nullptr;
    for (std::size_t i = 0; i < run.valid.size(); ++i) {
        const text::Sentence units = run.tgt_vocab.decode((*ids)[i]);
        const std::string hyp = subwords ? run.tgt_subwords->decode(units) : text::join_words(units);
        const std::string& ref = run.valid_references[i];
        bleu.add(bleu_tokens(hyp, subwords), bleu_tokens(ref, subwords));
        chrf.add(hyp, ref);
        if (i < 3) v.examples.push_back({run.valid_sources[i], ref, hyp});
    }
    v.bleu = bleu.bleu();
    v.chrf = chrf.chrf();
    return true;
}

// curves.svg: the validations of log.jsonl against steps, BLEU and chrF above, the loss below.
std::string learning_curves(const std::vector<EpochReport>& points) {
    viz::Series bleu{"BLEU", {}, {}, "#1f77b4"}, chrf{"chrF2", {}, {}, "#2ca02c"}, loss{"valid loss", {}, {}, "#d62728"};
    double max_step = 1, max_loss = 1e-9;
    for (const EpochReport& r : points) {
        const double x = static_cast<double>(r.step);
        bleu.x.push_back(x), bleu.y.push_back(r.bleu);
        chrf.x.push_back(x), chrf.y.push_back(r.chrf);
        loss.x.push_back(x), loss.y.push_back(r.valid_loss);
        max_step = std::max(max_step, x), max_loss = std::max(max_loss, r.valid_loss);
    }
    const std::string top = viz::svg_line_plot({"validation: BLEU and chrF2 of greedy decoding", "step", "score", 0, max_step, 0, 100, {bleu, chrf}, {}});
    std::string bottom = viz::svg_line_plot({"validation: loss (teacher forced)", "step", "loss", 0, max_step, 0, max_loss * 1.05, {loss}, {}});
    bottom.insert(4, " y=\"400\"");  // the second plot under the first, in one picture
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"800\" viewBox=\"0 0 640 800\">\n" + top + bottom + "</svg>\n";
}

// One line of log.jsonl.
std::string log_line(const EpochReport& r) {
    return fmt::format("{{\"step\": {}, \"epoch\": {:.4f}, \"valid_loss\": {:.6f}, \"valid_accuracy\": {:.6f}, \"bleu\": {:.4f}, "
                       "\"chrf\": {:.4f}, \"best\": {}, \"seconds\": {:.1f}}}\n",
                       r.step, r.epochs_done, r.valid_loss, r.valid_accuracy, r.bleu, r.chrf, r.best, r.seconds);
}

// The points of a log.jsonl (this training's own lines: a line it cannot read is named).
std::vector<EpochReport> read_log(const std::string& log, const std::string& where) {
    std::vector<EpochReport> points;
    std::istringstream lines(log);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
        EpochReport r;
        auto number = [&](const char* key) {
            const std::string quoted = fmt::format("\"{}\": ", key);
            const auto at = line.find(quoted);
            if (at == std::string::npos) throw FileError(fmt::format("{}:{}: no \"{}\"", where, n, key));
            return std::strtod(line.c_str() + at + quoted.size(), nullptr);
        };
        r.step = static_cast<std::int64_t>(number("step"));
        r.valid_loss = number("valid_loss");
        r.bleu = number("bleu");
        r.chrf = number("chrf");
        points.push_back(r);
    }
    return points;
}

// The checkpoints --keep-last writes beside `out`: OUT.step-S, S the step.
fs::path step_checkpoint(const fs::path& out, std::int64_t step) {
    const fs::path dir = checkpoint_path(out);
    return dir.parent_path() / fmt::format("{}.step-{}", dir.filename().string(), step);
}

// Removes all but the newest `keep` of them: only folders of that name that are tapegrad's model
// checkpoints (marked so), which this training wrote.
void prune_step_checkpoints(const fs::path& out, std::size_t keep) {
    const fs::path dir = checkpoint_path(out);
    const std::string prefix = dir.filename().string() + ".step-";
    std::vector<std::pair<long long, fs::path>> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir.parent_path().empty() ? "." : dir.parent_path(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) continue;
        const std::string digits = name.substr(prefix.size());
        if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
        if (is_checkpoint_dir(e.path()) && checkpoint_kind(e.path()) == "model") found.emplace_back(std::stoll(digits), e.path());
    }
    std::sort(found.begin(), found.end());
    for (std::size_t i = 0; i + keep < found.size(); ++i) fs::remove_all(found[i].second);
}

// Checks every output location before anything long starts: what --out holds, and whether a save can
// be published there. Returns whether the training is resumed in place (--resume = --out).
bool check_outputs(const TrainOptions& o) {
    std::vector<fs::path> inputs = {o.train, o.valid};
    const bool in_place = o.resume && (same_file(*o.resume, o.out) || same_file(*o.resume, o.out.string() + ".old"));
    if (o.resume && !in_place) inputs.push_back(*o.resume);  // resuming in place (out = resume) is allowed
    if (o.resume && !fs::exists(*o.resume) && !fs::exists(o.resume->string() + ".old"))
        throw UsageError(fmt::format("--resume {}: no such checkpoint folder", o.resume->string()));
    check_checkpoint_output(o.out, "--out", inputs, "model", o.force);
    // A trained model at --out is never replaced by another training unless asked: it is continued in
    // place with --resume, or replaced with --force.
    const auto holds_model = [](const fs::path& dir) {
        return checkpoint_kind(dir) == "model" || checkpoint_kind(dir.string() + ".old") == "model";
    };
    if (!in_place && !o.force && holds_model(checkpoint_path(o.out)))
        throw UsageError(fmt::format("--out {}: holds a trained model; continue it with --resume {} --out {}, name a new "
                                     "folder, or add --force to replace it", o.out.string(), o.out.string(), o.out.string()));
    return in_place;
}

// Set-up: the training state (new, or the checkpoint's), the data read and cut into pieces, the
// vocabularies and the model built (or loaded to resume).
// Resuming: the training state, the model and its vocabularies as the checkpoint saved them, and its log.
void resume(const TrainOptions& o, Run& run) {
    TrainState& state = run.state;
    const fs::path dir = checkpoint_dir_to_read(*o.resume);  // or DIR.old, left by an interrupted save
    run.resume_from = fs::exists(dir / "last" / "train_state.txt") ? dir / "last" : dir;
    if (!fs::exists(run.resume_from / "train_state.txt"))
        throw FileError(fmt::format("{}: a model without its training state (train_state.txt): it can be evaluated and "
                                    "translated with, not resumed", o.resume->string()));
    state = TrainState::load(run.resume_from / "train_state.txt");
    LoadedModel loaded = load_model(run.resume_from);
    run.model = std::move(loaded.model);
    run.src_vocab = std::move(loaded.src_vocab);
    run.tgt_vocab = std::move(loaded.tgt_vocab);
    run.src_subwords = loaded.src_subwords;
    run.tgt_subwords = loaded.tgt_subwords;
    check_resume_options(o, state, run.model->config);
    if (fs::exists(run.resume_from / "log.jsonl")) run.log = read_text(run.resume_from / "log.jsonl");
}

// A new training: each setting as given, else its default (a fresh TrainState holds them).
TrainState new_state(const TrainOptions& o) {
    TrainState state;
    if (o.seed) state.seed = *o.seed;
    if (o.batch) state.batch_size = static_cast<std::int64_t>(*o.batch);
    if (o.max_len) state.max_len = static_cast<std::int64_t>(*o.max_len);
    if (o.min_count) state.min_count = static_cast<std::int64_t>(*o.min_count);
    state.lr = o.lr.value_or(state.lr);
    state.clip = o.clip.value_or(state.clip);
    state.dropout = o.dropout.value_or(state.dropout);
    state.label_smoothing = o.label_smoothing.value_or(state.label_smoothing);
    state.lr_decay = o.lr_decay.value_or(state.lr_decay);
    state.warmup = o.warmup.value_or(state.warmup);
    state.best_by = o.early_stopping.value_or(state.best_by);
    state.patience = o.early_stopping ? o.patience.value_or(kTrainDefaults.patience) : 0;
    state.epochs = o.epochs.value_or(state.epochs);
    state.time_limit = o.time_limit.value_or(state.time_limit);
    state.valid_every = o.valid_every.value_or(state.valid_every);
    state.keep_last = static_cast<std::int64_t>(o.keep_last.value_or(static_cast<std::size_t>(state.keep_last)));
    state.subwords = static_cast<std::int64_t>(o.subwords);
    return state;
}

// The data as the model reads it: the pairs of --train and --valid (cut into subword pieces, learnt
// here for a new subword model), those longer than --max-len left out (said), the training file's
// fingerprint checked against the one a resumed training was trained on.
std::pair<std::vector<text::SentencePair>, std::vector<text::SentencePair>> read_data(const TrainOptions& o, Run& run,
                                                                                     const TrainHooks& hooks) {
    auto say = [&](const std::string& text) {
        if (hooks.message) hooks.message(text);
    };
    auto phase = [&](const char* what) {
        if (hooks.setup_phase) hooks.setup_phase(what);
    };
    TrainState& state = run.state;
    phase("reading the data");
    auto parse = [&](const std::string& bytes, const fs::path& file) {
        std::size_t extra = 0;
        auto pairs = text::parse_parallel(bytes, file.string(), &extra);
        if (extra) say(fmt::format("{}: {} lines have more than two columns; the first two are used", file.string(), extra));
        return pairs;
    };
    const std::string train_bytes = read_text(o.train);
    std::vector<text::SentencePair> read_train = parse(train_bytes, o.train), valid_pairs = parse(read_text(o.valid), o.valid);
    // The training data is the one the state was saved with, or a change the user asked for.
    const std::string train_fingerprint = fingerprint(train_bytes);
    if (o.resume && !state.train_data.empty() && state.train_data != train_fingerprint) {
        if (!o.allow_new_data)
            throw UsageError(fmt::format("--train {}: not the file the training being resumed was trained on (it was {}, this "
                                         "one is {}); resume with that file, or add --new-data to go on with this one",
                                         o.train.string(), state.train_data, train_fingerprint));
        say(fmt::format("resuming on new data ({}): epoch {} starts again from its first batch", o.train.string(), state.epoch + 1));
        state.batch = 0;
    }
    state.train_data = train_fingerprint;
    if (o.subwords > 0 && !run.model) {  // learnt from the training file, one model per language
        phase("learning subword pieces");
        std::vector<std::string> sources, targets;
        for (const auto& p : read_train) sources.push_back(text::join_words(p.source)), targets.push_back(text::join_words(p.target));
        run.src_subwords = std::make_shared<const Subwords>(Subwords::train(sources, o.subwords));
        run.tgt_subwords = std::make_shared<const Subwords>(Subwords::train(targets, o.subwords));
    }
    // From here on a "word" is a piece, for a subword model.
    std::vector<std::string> valid_text;  // the references as text, for BLEU and chrF
    std::vector<std::string> valid_source_text;
    for (const auto& p : valid_pairs) {
        valid_text.push_back(text::join_words(p.target));
        valid_source_text.push_back(text::join_words(p.source));
    }
    read_train = to_units(std::move(read_train), run.src_subwords.get(), run.tgt_subwords.get());
    valid_pairs = to_units(std::move(valid_pairs), run.src_subwords.get(), run.tgt_subwords.get());
    // Validation obeys --max-len as training does: its memory grows with the square of a pair's length.
    const auto too_long = [&](const text::SentencePair& p) {
        return p.source.size() > static_cast<std::size_t>(state.max_len) || p.target.size() > static_cast<std::size_t>(state.max_len);
    };
    const char* units = run.src_subwords ? "pieces" : "words";
    if (const auto skipped = std::count_if(valid_pairs.begin(), valid_pairs.end(), too_long); skipped > 0) {
        if (static_cast<std::size_t>(skipped) == valid_pairs.size())
            throw UsageError(fmt::format("--max-len: no validation pair of {} is {} {} or shorter", o.valid.string(),
                                         state.max_len, units));
        say(fmt::format("{}: {} validation pairs with a side longer than --max-len {} are not scored", o.valid.string(),
                        skipped, state.max_len));
    }
    std::vector<text::SentencePair> kept_valid;
    for (std::size_t i = 0; i < valid_pairs.size(); ++i)
        if (!too_long(valid_pairs[i])) {
            kept_valid.push_back(std::move(valid_pairs[i]));
            run.valid_references.push_back(std::move(valid_text[i]));
            run.valid_sources.push_back(std::move(valid_source_text[i]));
        }
    valid_pairs = std::move(kept_valid);
    std::vector<text::SentencePair> train_pairs;
    for (text::SentencePair& p : read_train)
        if (!too_long(p)) train_pairs.push_back(std::move(p));
    if (train_pairs.empty())
        throw UsageError(fmt::format("--max-len: no training pair of {} is {} {} or shorter", o.train.string(), state.max_len, units));
    return {std::move(train_pairs), std::move(valid_pairs)};
}

// A new model's configuration: each size as given, else its default, checked before anything is built.
ModelConfig new_model_config(const TrainOptions& o, const Run& run) {
    ModelConfig c;  // its sizes are the defaults, unless given
    c.src_vocab = run.src_vocab.size();
    c.tgt_vocab = run.tgt_vocab.size();
    c.arch = o.arch.value_or(c.arch);
    check_arch_options(c, o);
    c.model_dim = o.model_dim.value_or(c.model_dim);
    c.ff_dim = o.ff_dim.value_or(c.ff_dim);
    c.layers = o.layers.value_or(c.layers);
    c.pre_norm = o.pre_norm;
    c.emb = o.emb.value_or(c.emb);
    c.hidden = o.hidden.value_or(c.hidden);
    c.attn = o.attn.value_or(c.attn);
    c.attention = o.attention.value_or(c.attention);
    c.cell = o.cell.value_or(c.cell);
    c.tie_embeddings = o.tie_embeddings;
    if (!find_cell_kind(c.cell)) throw UsageError(fmt::format("--cell {}: the cells are {}", c.cell, cell_kind_names()));
    c.heads = o.heads.value_or(c.heads);
    c.deep_output = o.deep_output.value_or(c.deep_output);
    // dot and scaled_dot compare the decoder's state (H) with the annotations (2 x the encoder's
    // size) directly: unless told otherwise, each direction of the encoder gets H / 2, as
    // OpenNMT's bidirectional encoders do.
    const AttentionKind* kind = find_attention_kind(c.attention);
    c.encoder_hidden = o.encoder_hidden.value_or(kind && kind->equal_sizes ? c.hidden / 2 : c.hidden);
    if (!c.is_transformer()) check_attention_options(c, o);
    if (c.is_transformer() && (c.heads == 0 || c.model_dim % c.heads != 0))
        throw UsageError(fmt::format("--heads {}: the heads must divide --model-dim {}", c.heads, c.model_dim));
    if (c.tie_embeddings && !c.is_transformer() && c.deep_output != c.emb)
        throw UsageError(fmt::format("--tie-embeddings: the output layer must read as many features as the target embedding "
                                     "has (--emb {}): add --deep-output {}", c.emb, c.emb));
    check_model_fits(c, o);
    return c;
}

// Set-up: the training state (new, or the checkpoint's), the data read and cut into pieces, the
// vocabularies and the model built (or loaded to resume).
Run set_up(const TrainOptions& o, const TrainHooks& hooks) {
    Run run;
    if (o.resume) resume(o, run);
    else run.state = new_state(o);
    auto [train_pairs, valid_pairs] = read_data(o, run, hooks);
    if (hooks.setup_phase) hooks.setup_phase("building the model");
    if (!run.model) {  // the vocabularies come from the training file (or from the checkpoint when resuming)
        std::vector<text::Sentence> sources, targets;
        for (const auto& p : train_pairs) {
            sources.push_back(p.source);
            targets.push_back(p.target);
        }
        run.src_vocab = text::Vocab::build(sources, static_cast<std::size_t>(run.state.min_count));
        run.tgt_vocab = text::Vocab::build(targets, static_cast<std::size_t>(run.state.min_count));
        Generator init(run.state.seed);
        run.model = make_model(new_model_config(o, run), init);
    }
    run.train = text::encode_pairs(train_pairs, run.src_vocab, run.tgt_vocab);
    run.valid = text::encode_pairs(valid_pairs, run.src_vocab, run.tgt_vocab);
    return run;
}

// When resuming: the optimizer's state, and a schedule given now applied from here on (and said).
void resume_optimizer(const TrainOptions& o, Run& run, Adam& opt, const std::function<void(const std::string&)>& say) {
    TrainState& state = run.state;
    load_optimizer(run.resume_from, opt);
    say(fmt::format("resuming {}: after epoch {}, batch {} (step {})", run.resume_from.string(), state.epoch, state.batch,
                    state.step));
    // Each setting given anew applies from here on, and is said when it differs.
    auto change = [&](const char* option, const auto& given, auto& saved) {
        if (!given) return;
        if (*given != saved) say(fmt::format("resuming with {} {} (it was {})", option, *given, saved));
        saved = *given;
    };
    change("--lr", o.lr, state.lr);
    change("--clip", o.clip, state.clip);
    change("--dropout", o.dropout, state.dropout);
    change("--label-smoothing", o.label_smoothing, state.label_smoothing);
    change("--lr-decay", o.lr_decay, state.lr_decay);
    change("--epochs", o.epochs, state.epochs);
    change("--time-limit", o.time_limit, state.time_limit);
    change("--warmup", o.warmup, state.warmup);
    change("--valid-every", o.valid_every, state.valid_every);
    change("--keep-last", o.keep_last ? std::optional<std::int64_t>(static_cast<std::int64_t>(*o.keep_last)) : std::nullopt,
           state.keep_last);
    change("--patience", o.patience, state.patience);
    opt.set_lr(state.lr);
}

// One optimizer step on a batch; returns its loss. A loss or gradient norm that is not finite stops
// training before the step spoils the parameters (NumericError, naming the op that made it).
float train_step(Run& run, Adam& opt, const text::Batch& batch, const fs::path& out) {
    const TrainState& state = run.state;
    // Dropout's random stream is a function of the step, so that a resumed training draws what the
    // uninterrupted one would have.
    Generator dropout_stream(state.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(state.step));
    const Generator stream_at_start = dropout_stream;
// <doc:train-step>
    StepScope step;  // the step's graph is released at the closing brace
    opt.zero_grad();
    Var loss;
    {
        PackedWeightsScope packed(run.model->parameters());  // each weight packed once for the step's products,
        loss = run.model->loss(batch, &dropout_stream);      // and let go before the update changes them
        loss.backward();
    }
    const float norm = clip_grad_norm(opt.params(), state.clip > 0 ? static_cast<float>(state.clip) : 1e30f);
    const float loss_value = loss.item();
    if (!std::isfinite(loss_value) || !std::isfinite(norm))  // stop before the step spoils the parameters
        throw NumericError(not_finite_report(loss_value, norm, state.step + 1, *run.model, batch, stream_at_start, out));
    opt.step();
    return loss_value;
// </doc:train-step>
}

// Checks what can be checked of the options before anything is read: for a program's options as for
// the command line's.
void check_options(const TrainOptions& o) {
    if (o.lr_decay && !known_lr_decay(*o.lr_decay))
        throw UsageError(fmt::format("--lr-decay {}: expected none, linear or inverse-sqrt", *o.lr_decay));
    if (o.early_stopping && !known_metric(*o.early_stopping))
        throw UsageError(fmt::format("--early-stopping {}: expected loss, bleu or chrf", *o.early_stopping));
    if (o.patience && !o.early_stopping && !o.resume)
        throw UsageError("--patience: stops training with --early-stopping METRIC; give it too");
    if (o.patience && *o.patience < 1) throw UsageError(fmt::format("--patience {}: at least 1 validation", *o.patience));
    if (o.warmup && *o.warmup < 0) throw UsageError(fmt::format("--warmup {}: a number of steps, 0 or more", *o.warmup));
    if (o.valid_every && *o.valid_every < 0) throw UsageError(fmt::format("--valid-every {}: a number of steps, 0 or more", *o.valid_every));
    if (o.epochs && *o.epochs < 1) throw UsageError(fmt::format("--epochs {}: at least 1", *o.epochs));
    if (o.time_limit && !(*o.time_limit >= 0)) throw UsageError(fmt::format("--time-limit {}: seconds, 0 (no limit) or more", *o.time_limit));
}

// How much of the run's budget is used: --time-limit (this run's seconds) or --epochs (all runs'
// steps), whichever is used up first, from 0 to 1.
double budget_used(const TrainState& state, double seconds, std::size_t steps_per_epoch) {
    double used = static_cast<double>(state.step) / (static_cast<double>(state.epochs) * static_cast<double>(steps_per_epoch));
    if (state.time_limit > 0) used = std::max(used, seconds / state.time_limit);
    return std::clamp(used, 0.0, 1.0);
}

// The learning rate of the next step. --lr-decay linear: from --lr in a straight line to 0 over the
// budget, the schedule that does best when training is cut by a budget (Li, Yumer & Ramanan, "Budgeted
// training", ICLR 2020; a resumed training starts its time budget again from --lr). --warmup: rising
// from 0 over the first steps (Adam's moments are not yet estimated); --lr-decay inverse-sqrt: then
// falling as 1 / sqrt(step), the Transformer's schedule (Vaswani et al. 2017, Eq. 3).
double learning_rate(const TrainState& state, double budget_used) {
    const double lr = state.lr_decay == "linear" ? state.lr * (1.0 - budget_used) : state.lr;
    if (state.step < state.warmup) return lr * warmup_factor(state.step, state.warmup);
    return state.lr_decay == "inverse-sqrt" ? lr * inverse_sqrt_factor(state.step, state.warmup) : lr;
}

double epochs_done(const TrainState& state, std::size_t steps_per_epoch) {
    return static_cast<double>(state.epoch) + static_cast<double>(state.batch) / static_cast<double>(steps_per_epoch);
}

// What the progress hook is told after every step: a moving average of the loss and the time left.
class Progress {
public:
    Progress(const TrainHooks& hooks, Clock::time_point start) : hooks_(hooks), start_(start) {}

    void after_step(const TrainState& state, std::size_t steps_per_epoch, float loss, double lr, std::size_t tokens) {
        ++steps_;
        loss_avg_ = steps_ == 1 ? loss : 0.95 * loss_avg_ + 0.05 * loss;
        if (!hooks_.progress) return;
        const double now = seconds();
        double left = now / static_cast<double>(steps_) *
                      static_cast<double>((state.epochs - state.epoch) * static_cast<std::int64_t>(steps_per_epoch) - state.batch);
        if (state.time_limit > 0) left = std::min(left, state.time_limit - now);
        hooks_.progress({state.epoch, state.step, static_cast<double>(state.batch) / static_cast<double>(steps_per_epoch), loss_avg_,
                         lr, tokens, now, left});
    }
    double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

private:
    const TrainHooks& hooks_;
    Clock::time_point start_;
    std::size_t steps_ = 0;  // this run's
    double loss_avg_ = 0;
};

// Validation and saving. The best model goes to `out` itself (with the state, since it is also the
// latest); a later state that is not better goes to out/last, so the best is never overwritten by it.
// The first save of a training that is not resumed in place goes to `out` itself, whatever was there.
class Checkpoints {
public:
    Checkpoints(const TrainOptions& o, Run& run, Adam& opt, const CheckpointLock& lock, const TrainHooks& hooks,
                bool in_place, const Progress& clock)
        : o_(o), run_(run), opt_(opt), lock_(lock), hooks_(hooks), top_is_ours_(in_place), clock_(clock) {}

    std::int64_t validated_at = -1;  // the step of the last validation

    // Validation (loss and accuracy; BLEU and chrF of greedy decoding), the best by state.best_by, the
    // save and the report. Returns whether early stopping's patience ran out.
    bool validate_and_save(double epochs_done) {
        TrainState& state = run_.state;
        validated_at = state.step;
        Validation v = validate(*run_.model, run_.valid, hooks_.stop_requested);
        if (v.complete) v.complete = score_translations(run_, v, hooks_.stop_requested);
        const double score = v.score(state.best_by);
        EpochReport report{v.complete, epochs_done, state.step, v.loss, v.accuracy, v.bleu, v.chrf,
                           v.complete && score > state.best_score, true, seconds(), opt_.lr(), v.examples};
        const TrainState before = state;  // put back if the save fails
        const std::string log_before = run_.log;
        if (report.best) {
            state.best_score = score;
            state.best_valid_loss = v.loss;
            state.since_best = 0;
        } else if (v.complete) {
            ++state.since_best;
        }
        if (v.complete) run_.log += log_line(report);
        try {
            save(report.best, v.complete);
        } catch (const std::exception& e) {  // said as it is: nothing was saved
            state = before;
            run_.log = log_before;
            report.saved = false;
            report.seconds = seconds();
            if (hooks_.epoch_end) hooks_.epoch_end(report);
            throw FileError(fmt::format("the checkpoint could not be saved in {}: {}", o_.out.string(), e.what()));
        }
        report.seconds = seconds();
        if (hooks_.epoch_end) hooks_.epoch_end(report);
        if (hooks_.watch && v.complete) hooks_.watch(report, {*run_.model, run_.src_vocab, run_.tgt_vocab, run_.valid});
        return state.patience > 0 && state.since_best >= state.patience;
    }

private:
    double seconds() const { return clock_.seconds(); }

    void save(bool best, bool complete) {
        lock_.check_held();  // a lock removed by hand: another training may be saving here now
        const bool top = best || !top_is_ours_;
        CheckpointWriter w(top ? o_.out : o_.out / "last", "model", o_.force);
        add_everything(w, true);
        w.commit();
        if (top) top_is_ours_ = true;
        if (run_.state.keep_last > 0 && complete) {  // this validation's model, beside out, and the last N kept
            CheckpointWriter step(step_checkpoint(o_.out, run_.state.step), "model");
            add_everything(step, false);
            step.commit();
            prune_step_checkpoints(o_.out, static_cast<std::size_t>(run_.state.keep_last));
        }
    }

    void add_everything(CheckpointWriter& w, bool with_optimizer) const {
        add_model(w, *run_.model, run_.src_vocab, run_.tgt_vocab, run_.src_subwords.get(), run_.tgt_subwords.get());
        if (with_optimizer) save_optimizer(w, opt_);
        w.add_text("train_state.txt", run_.state.str());
        if (!o_.configuration.empty()) w.add_text("run.toml", o_.configuration);
        if (!run_.log.empty()) {
            w.add_text("log.jsonl", run_.log);
            w.add_text("curves.svg", learning_curves(read_log(run_.log, "log.jsonl")));
        }
    }

    const TrainOptions& o_;
    Run& run_;
    Adam& opt_;
    const CheckpointLock& lock_;
    const TrainHooks& hooks_;
    bool top_is_ours_;
    const Progress& clock_;  // the run's seconds, for the reports
};

}  // namespace

// The loop: set-up, then epochs of steps, each epoch (and a stop, and every --valid-every steps)
// ending with validation and a save.
TrainResult train(const TrainOptions& o, const TrainHooks& hooks) {
    auto say = [&](const std::string& text) {
        if (hooks.message) hooks.message(text);
    };
    check_options(o);
    // Every output location is checked before anything long starts, and held: a second training
    // with the same out fails now instead of overwriting this one's checkpoints.
    const bool in_place = check_outputs(o);
    CheckpointLock lock(o.out);
    if (hooks.setup_phase) hooks.setup_phase("holding the lock");
    Run run = set_up(o, hooks);
    TrainState& state = run.state;
    TranslationModel& model = *run.model;
    Adam opt(model.named_parameters(), {.lr = state.lr});
    if (!run.resume_from.empty()) resume_optimizer(o, run, opt, say);
    say(fmt::format("model: {}, {} parameters; {} training pairs, {} validation pairs; vocabularies {} / {}", model.config.describe(),
                    model.parameter_count(), run.train.size(), run.valid.size(), run.src_vocab.size(), run.tgt_vocab.size()));
    Progress progress(hooks, Clock::now());
    Checkpoints checkpoints(o, run, opt, lock, hooks, in_place, progress);
    model.set_label_smoothing(static_cast<float>(state.label_smoothing));
    model.set_dropout(static_cast<float>(state.dropout));
    if (hooks.training_started) hooks.training_started();
    const char* stop = nullptr;
    while (state.epoch < state.epochs && !stop) {
        Generator order(state.seed * 1000003ull + static_cast<std::uint64_t>(state.epoch));  // the epoch's batch order
        const auto plan = text::plan_batches(run.train, static_cast<std::size_t>(state.batch_size), &order);
        for (auto b = static_cast<std::size_t>(state.batch); b < plan.size() && !stop; ++b) {
            const text::Batch batch = text::make_batch(run.train, plan[b]);
            opt.set_lr(learning_rate(state, budget_used(state, progress.seconds(), plan.size())));
            const float loss = train_step(run, opt, batch, o.out);
            ++state.step;
            state.batch = static_cast<std::int64_t>(b) + 1;
            progress.after_step(state, plan.size(), loss, opt.lr(), batch.target_tokens);
            if (state.time_limit > 0 && progress.seconds() >= state.time_limit) stop = "time limit reached";
            if (hooks.stop_requested && hooks.stop_requested()) stop = "stopped";
            const bool mid_epoch = static_cast<std::size_t>(state.batch) < plan.size();
            if (!stop && mid_epoch && state.valid_every > 0 && state.step % state.valid_every == 0 &&
                checkpoints.validate_and_save(epochs_done(state, plan.size())))
                stop = "early stopping";
        }
        const double done = epochs_done(state, plan.size());
        if (static_cast<std::size_t>(state.batch) >= plan.size()) {  // the epoch is complete
            ++state.epoch;
            state.batch = 0;
        }
        // With --valid-every, validations keep their spacing (an epoch's end a few steps after one would
        // be a near copy of it among --keep-last's checkpoints); training's end is always validated.
        const bool due = state.valid_every == 0 || state.step % state.valid_every == 0 || stop || state.epoch >= state.epochs;
        if (due && checkpoints.validated_at != state.step && checkpoints.validate_and_save(done) && !stop) stop = "early stopping";
        if (!stop && hooks.stop_requested && hooks.stop_requested()) stop = "stopped";
    }
    if (stop && std::string(stop) == "early stopping")
        say(fmt::format("early stopping: no better {} in the last {} validations; the best is in {}", state.best_by, state.patience,
                        o.out.string()));
    return {stop ? stop : "done", state.step, state.best_valid_loss, progress.seconds(),
            static_cast<double>(active_tape().arena().peak_bytes()) / (1024.0 * 1024.0)};
}

}  // namespace translator
