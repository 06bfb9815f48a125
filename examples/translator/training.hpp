// Training the translator, as a function: `translator train` parses its command line into
// TrainOptions and calls train(); so do `paper` and any program of yours. Everything a run needs is in
// the options, everything it reports goes through the hooks, so the caller decides what is shown.
//
// What train() does: reads the data (and cuts it into subword pieces), builds the vocabularies and the
// model, or loads them to resume; trains with teacher forcing, Adam and global-norm clipping; after
// each epoch (and when it stops early) scores the validation data and saves: the best model so far
// in `out`, a later one that is not better in `out/last`. Each save is atomic; `out` is checked and
// locked before any work starts.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model.hpp"
#include "text/batching.hpp"
#include "text/vocab.hpp"

namespace translator {

// The default of every training setting, in this one place: a new training starts from them, the
// training state saved with a checkpoint starts from them, and `translator train --help` shows them
// (cmd_train.cpp builds its help from these). The model's sizes are ModelConfig's (model.hpp).
struct TrainDefaults {
    std::int64_t epochs = 10;
    double time_limit = 0;  // seconds; 0: no limit
    std::size_t batch = 32, max_len = 100, min_count = 1, subwords = 0;
    std::uint64_t seed = 1;
    double lr = 1e-3, clip = 1.0, dropout = 0.0, label_smoothing = 0.0;
    const char* lr_decay = "none";
    std::int64_t warmup = 0, valid_every = 0, patience = 5;
    std::size_t keep_last = 0;
    const char* best_by = "loss";
};
inline constexpr TrainDefaults kTrainDefaults{};

struct TrainOptions {
    std::filesystem::path train, valid;  // sentence pairs (TSV)
    std::filesystem::path out;           // the checkpoint folder: new, empty, or a checkpoint
    // The budget: epochs (all runs') and seconds (this run's; 0: no limit). Like every setting below
    // that may change when resuming: unset, the default for a new training and the checkpoint's when
    // resuming; set to another value than the checkpoint's, applied from here on and said.
    std::optional<std::int64_t> epochs;
    std::optional<double> time_limit;

    // Sizes, data handling and seed. Unset: the default for a new training (ModelConfig's sizes,
    // kTrainDefaults' others), the checkpoint's when resuming; set to another value than the
    // checkpoint's when resuming: an error (UsageError). Error messages name them as the command line
    // does (--emb, --hidden, ...).
    std::optional<std::size_t> emb, hidden, attn, deep_output, encoder_hidden, heads;
    std::optional<std::string> attention;  // a score function (tg::attention_kinds()), or "none": RNNencdec
    std::optional<std::string> cell;       // a cell of tg::cell_kinds() (layers/cell_kinds.hpp)
    bool tie_embeddings = false;           // a new model's output weight is its target embedding (ModelConfig)
    // The architecture ("rnnsearch" or "transformer") and the Transformer's sizes (ModelConfig).
    std::optional<std::string> arch;
    std::optional<std::size_t> model_dim, ff_dim, layers;
    bool pre_norm = false;
    std::optional<std::size_t> batch, max_len, min_count;
    std::optional<std::uint64_t> seed;
    std::size_t subwords = kTrainDefaults.subwords;  // about this many SentencePiece pieces per language; 0: whole words

    // The schedule (clip 0: no clipping; lr_decay "none" or "linear"); may change when resuming
    // (said). Dropout and label smoothing are training settings, not part of the model
    // (TranslationModel::set_dropout, set_label_smoothing).
    std::optional<double> lr, clip, dropout, label_smoothing;
    // "linear": to 0 over the budget; "inverse-sqrt": lr sqrt(warmup / step) after the warmup, the
    // Transformer's schedule (Vaswani et al. 2017, Eq. 3, with --lr its peak).
    std::optional<std::string> lr_decay;
    // The learning rate rises in a straight line from 0 to lr over the first `warmup` steps (then
    // --lr-decay applies): Adam's first steps, with its moments not yet estimated, are the large ones.
    std::optional<std::int64_t> warmup;

    // Validation: the teacher-forced loss and accuracy, and BLEU and chrF of greedy decoding, after
    // each epoch, or every `valid_every` steps instead (and when training ends). `early_stopping` names the
    // metric that picks the best checkpoint ("loss", "bleu" or "chrf"; loss when unset) and stops
    // training after `patience` validations in a row without a better one. Every validation is a line
    // of log.jsonl in the checkpoint, drawn in curves.svg.
    std::optional<std::int64_t> valid_every;
    std::optional<std::string> early_stopping;
    std::optional<std::int64_t> patience;
    // Also keep the checkpoints of the last `keep_last` validations, as OUT.step-S beside OUT (what
    // `translator average` averages); older ones this training wrote are removed. 0: none.
    std::optional<std::size_t> keep_last;

    std::optional<std::filesystem::path> resume;  // continue the training saved there exactly
    // Resuming with a --train file other than the one the training was saved with (its fingerprint,
    // in train_state.txt, differs) is an error unless this is set: then the epoch under way starts over
    // on the new data.
    bool allow_new_data = false;
    // Replace what `out` holds (a trained model of another training, a checkpoint of another kind)
    // instead of refusing: a new training never replaces a trained model unless asked.
    bool force = false;
    // The run's settings as a configuration file (`train --config` reads it), saved in every
    // checkpoint as run.toml; empty: none is saved.
    std::string configuration;
};

// After every step, for a progress display.
struct TrainProgress {
    std::int64_t epoch = 0;        // the epoch under way, from 0
    std::int64_t step = 0;         // optimizer steps so far (all runs)
    double epoch_fraction = 0;     // of the epoch under way
    double loss = 0;               // a moving average of the training loss
    double lr = 0;                 // the learning rate this step used
    std::size_t tokens = 0;        // target tokens of this step
    double seconds = 0;            // since train() started
    double seconds_left = 0;       // estimated, within the epoch and time limits
};

// A validation sentence, its reference and the model's greedy translation of it.
struct ValidationExample {
    std::string source, reference, translation;
};

// After each validation and save.
struct EpochReport {
    bool validated = true;  // false: a stop interrupted the validation; the state was saved without it
    double epochs_done = 0;
    std::int64_t step = 0;
    double valid_loss = 0, valid_accuracy = 0;
    double bleu = 0, chrf = 0;  // of greedy decoding of the validation sources
    bool best = false;   // better than every earlier validation (by the early-stopping metric): saved in `out` itself
    bool saved = false;  // false: the save failed, and train() throws right after
    double seconds = 0;
    double lr = 0;  // the learning rate of the last step (after warmup and decay)
    std::vector<ValidationExample> examples;  // the first validation pairs' translations (up to 3)
};

// "epoch   2.00  step   2518  valid loss 2.8449  valid accuracy 44.39%  BLEU 31.20  chrF2 55.10  lr 0.001  best, saved  (4:40 elapsed)"
std::string epoch_line(const EpochReport& e);
std::string clock_text(double seconds);  // "4:40", "1:02:03"

// What a watcher of training may read after each validation (translator train --serve): the model as
// it is now, its vocabularies and the validation pairs. Valid for the call only.
struct TrainWatch {
    const TranslationModel& model;
    const tg::text::Vocab &src_vocab, &tgt_vocab;
    const std::vector<tg::text::EncodedPair>& valid;
};

struct TrainHooks {
    std::function<void(const std::string&)> message;     // notes: the model, resuming, ignored columns
    std::function<void(const TrainProgress&)> progress;  // after every step
    std::function<void(const EpochReport&)> epoch_end;   // after each validation and save
    std::function<void(const EpochReport&, const TrainWatch&)> watch;  // then, with the model (on the training thread)
    std::function<bool()> stop_requested;                // polled after every step and validation batch: true stops and saves
    std::function<void(const char*)> setup_phase;        // set-up under way: "reading the data", "learning subwords", ...
    std::function<void()> training_started;              // set-up is over (data read, model built): a stop now saves
};

struct TrainResult {
    std::string stop_reason;  // "done", "time limit reached", "early stopping" or "stopped"
    std::int64_t steps = 0;
    double best_valid_loss = 0;
    double seconds = 0;
    double tape_peak_mb = 0;  // the arena's high-water mark: the largest step's memory
};

// Throws UsageError (an option that cannot work), tg::FileError (a bad input file, a save that
// failed: nothing published), tg::NumericError (the loss or the gradient norm is not finite: the
// step is not taken, nothing is saved, the message names the first op that made a NaN or Inf).
TrainResult train(const TrainOptions& options, const TrainHooks& hooks = {});

}  // namespace translator
