#include "train_settings.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "io/files.hpp"
#include "layers/attention.hpp"

namespace translator {

namespace {

// "score function: additive (v . tanh(W q + U k + b), ...), dot (...), ..., or none (RNNencdec)"
std::string attention_help() {
    std::string text = "score function: ";
    for (const tg::AttentionKind& k : tg::attention_kinds()) text += fmt::format("{} ({}), ", k.name, k.formula);
    return text + "or none (RNNencdec)";
}

// "the recurrent unit of the encoder and the decoder: gru (GRU, ...), lstm (...)"
std::string cell_help() {
    std::string text = "the recurrent unit of the encoder and the decoder: ";
    for (const tg::CellKind& k : tg::cell_kinds()) text += fmt::format("{}{} ({})", &k == &tg::cell_kinds().front() ? "" : ", ", k.name, k.about);
    return text;
}

}  // namespace

std::vector<OptionSpec> train_settings() {
    // The defaults shown are the ones train() uses: kTrainDefaults, and a new model's sizes (ModelConfig).
    constexpr TrainDefaults d = kTrainDefaults;
    const ModelConfig m;
    auto shown = [](auto value) { return fmt::format("{}", value); };
    return {{"--train", "F.tsv", "training pairs", "", true, "data"},
            {"--valid", "F.tsv", "validation pairs, scored after each epoch", "", true, "data"},
            {"--test", "F.tsv", "test pairs: what `translator test --config` scores the trained model on (training never reads them)", "", false, "data"},
            {"--out", "DIR", "checkpoint directory: the best model is kept here", "", true, "training"},
            {"--config", "FILE", "read the settings from a TOML file: [data], [model], [model.rnnsearch], [model.transformer], [training] (each option below without its dashes; options given here override it; every checkpoint holds its run's as run.toml)", ""},
            {"--epochs", "N", "stop after N epochs", shown(d.epochs), false, "training"},
            {"--time-limit", "SECONDS", "stop after this long (0: no limit)", shown(d.time_limit), false, "training"},
            {"--batch", "N", "sentence pairs per batch", shown(d.batch), false, "training"},
            {"--arch", "rnnsearch|transformer", "the model: RNNsearch (the paper's; its options below) or the Transformer (Vaswani et al. 2017)", m.arch, false, "model"},
            {"--model-dim", "N", "transformer: d_model, every sublayer's size", shown(m.model_dim), false, "model.transformer"},
            {"--ff-dim", "N", "transformer: d_ff, the feed-forward network's inner size", shown(m.ff_dim), false, "model.transformer"},
            {"--layers", "N", "transformer: encoder layers, and as many decoder layers", shown(m.layers), false, "model.transformer"},
            {"--pre-norm", "", "transformer: LayerNorm before each sublayer (the paper's: after the residual sum)", "", false, "model.transformer"},
            {"--emb", "N", "word embedding size E", shown(m.emb), false, "model.rnnsearch"},
            {"--cell", "NAME", cell_help(), m.cell, false, "model.rnnsearch"},
            {"--hidden", "N", "decoder size H", shown(m.hidden), false, "model.rnnsearch"},
            {"--encoder-hidden", "N", "encoder size per direction (default: H; H / 2 for dot and scaled_dot)", "", false, "model.rnnsearch"},
            {"--attention", "KIND", attention_help(), m.attention, false, "model.rnnsearch"},
            {"--attn", "N", "additive attention's size A", shown(m.attn), false, "model.rnnsearch"},
            {"--heads", "N", "multi_head attention's heads (they must divide H; the Transformer's, --model-dim)", shown(m.heads), false, "model"},
            {"--tie-embeddings", "", "the output layer's weight is the target embedding (needs --deep-output equal to --emb)", "", false, "model"},
            {"--lr", "X", "Adam learning rate", shown(d.lr), false, "training"},
            {"--lr-decay", "none|linear|inverse-sqrt", "linear: the learning rate falls to 0 over --time-limit (or --epochs); inverse-sqrt: lr sqrt(warmup / step) after --warmup, the Transformer's schedule", d.lr_decay, false, "training"},
            {"--clip", "X", "clip gradients to this global L2 norm (0: no clipping)", shown(d.clip), false, "training"},
            {"--dropout", "P", "while training, zero embeddings and output-layer inputs with probability P (0: none)", shown(d.dropout), false, "training"},
            {"--label-smoothing", "E", "while training, aim at 1 - E on the right word and E spread over the vocabulary", shown(d.label_smoothing), false, "training"},
            {"--warmup", "N", "the learning rate rises from 0 to --lr over the first N steps", shown(d.warmup), false, "training"},
            {"--valid-every", "N", "validate (loss, BLEU and chrF of greedy decoding) every N steps instead of after each epoch, and when training ends (0: after each epoch)", shown(d.valid_every), false, "training"},
            {"--early-stopping", "loss|bleu|chrf", "keep the best by this metric, and stop after --patience validations without a better one", d.best_by, false, "training"},
            {"--patience", "K", "with --early-stopping: validations without improvement before stopping", shown(d.patience), false, "training"},
            {"--keep-last", "N", "also keep the last N validations' models, as OUT.step-S beside OUT (for translator average)", shown(d.keep_last), false, "training"},
            {"--show-examples", "N", "after each validation, print the first N validation sentences (at most 3), their references and their translations", "2", false, "training"},
            {"--seed", "N", "random seed (initialisation and batch order)", shown(d.seed), false, "training"},
            {"--no-attention", "", "train the RNNencdec baseline: a fixed context, no attention (--attention none)", "", false, "model.rnnsearch"},
            {"--deep-output", "N", "a maxout layer of N units before the softmax, as in the paper's Appendix A (0: none)", shown(m.deep_output), false, "model.rnnsearch"},
            {"--max-len", "N", "drop training pairs with a side longer than N words", shown(d.max_len), false, "data"},
            {"--min-count", "N", "words seen fewer times become <unk>", shown(d.min_count), false, "data"},
            {"--subwords", "N", "cut words into about N subword pieces per language, learnt from --train (SentencePiece; 0: whole words)", shown(d.subwords), false, "data"},
            {"--resume", "DIR", "continue the training saved in DIR exactly where it stopped", ""},
            {"--new-data", "", "with --resume: go on with a --train file other than the one the training was saved with", ""},
            {"--force", "", "replace what --out holds (a trained model of another training) instead of refusing", ""},
            {"--serve", "PORT", "watch training in the browser at http://127.0.0.1:PORT/: learning curves, and the attention of validation sentences after each validation (0: any free port)", ""},
               kThreadsOption};
}

TrainOptions train_options(const Args& args) {
    TrainOptions o;
    o.train = args.text("--train");
    o.valid = args.text("--valid");
    o.out = args.text("--out");
    // Options not given stay unset: train() then uses its defaults, or the checkpoint's when resuming.
    if (args.given("--epochs")) o.epochs = args.integer("--epochs", 1, 1'000'000);
    if (args.given("--time-limit")) o.time_limit = args.number("--time-limit", 0, 1e9);
    auto size = [&](const char* option, long long min, long long max) -> std::optional<std::size_t> {
        if (!args.given(option)) return std::nullopt;
        return static_cast<std::size_t>(args.integer(option, min, max));
    };
    o.emb = size("--emb", 1, 100000);
    o.hidden = size("--hidden", 1, 100000);
    o.attn = size("--attn", 1, 100000);
    o.encoder_hidden = size("--encoder-hidden", 1, 100000);
    o.heads = size("--heads", 1, 1024);
    if (args.given("--arch")) o.arch = args.text("--arch");  // checked by train()
    o.model_dim = size("--model-dim", 1, 100000);
    o.ff_dim = size("--ff-dim", 1, 1000000);
    o.layers = size("--layers", 1, 64);
    o.pre_norm = args.flag("--pre-norm");
    if (args.given("--attention")) o.attention = args.text("--attention");  // checked by train()
    if (args.given("--cell")) o.cell = args.text("--cell");
    o.tie_embeddings = args.flag("--tie-embeddings");
    o.deep_output = size("--deep-output", 0, 100000);
    o.batch = size("--batch", 1, 100000);
    o.max_len = size("--max-len", 1, 100000);
    o.min_count = size("--min-count", 1, 1'000'000);
    if (args.given("--seed")) o.seed = static_cast<std::uint64_t>(args.integer("--seed", 0, 1LL << 62));
    if (args.flag("--no-attention")) {
        if (o.attention && *o.attention != "none")
            throw UsageError(fmt::format("--no-attention and --attention {}: choose one", *o.attention));
        o.attention = "none";
    }
    o.subwords = static_cast<std::size_t>(args.integer("--subwords", 0, 1'000'000));
    if (args.given("--lr")) o.lr = args.number("--lr", 0, 10);
    if (args.given("--lr-decay")) o.lr_decay = args.text("--lr-decay");  // checked by train()
    if (args.given("--clip")) o.clip = args.number("--clip", 0, 1e9);
    if (args.given("--dropout")) o.dropout = args.number("--dropout", 0, 0.95);
    if (args.given("--label-smoothing")) o.label_smoothing = args.number("--label-smoothing", 0, 0.95);
    if (args.given("--warmup")) o.warmup = args.integer("--warmup", 0, 1'000'000'000);
    if (args.given("--valid-every")) o.valid_every = args.integer("--valid-every", 0, 1'000'000'000);
    if (args.given("--early-stopping")) o.early_stopping = args.text("--early-stopping");  // checked by train()
    if (args.given("--patience")) o.patience = args.integer("--patience", 1, 1'000'000);
    if (args.given("--keep-last")) o.keep_last = static_cast<std::size_t>(args.integer("--keep-last", 0, 1000));
    if (args.given("--resume")) o.resume = args.text("--resume");
    if (args.flag("--new-data") && !o.resume) throw UsageError("--new-data: only with --resume");
    o.allow_new_data = args.flag("--new-data");
    o.force = args.flag("--force");
    // What run.toml holds: the settings given, over those of the training resumed.
    std::string base;
    if (o.resume)
        for (const auto& dir : {*o.resume / "last", *o.resume})
            if (std::error_code ec; std::filesystem::is_regular_file(dir / "run.toml", ec)) {
                base = tg::read_text(dir / "run.toml");
                break;
            }
    o.configuration = "# translator train's settings for the run saved here: those given, the rest their defaults.\n"
                      "# `translator train --config run.toml --out NEW` repeats it; options given with it override.\n\n" +
                      args.configuration(base, {"--train", "--valid", "--test", "--out"});
    return o;
}

}  // namespace translator
