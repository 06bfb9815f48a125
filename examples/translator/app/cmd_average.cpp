// translator average: the parameters of several checkpoints of one model, averaged (checkpoint
// averaging, as fairseq's average_checkpoints.py and OpenNMT's average_models.py): the last few
// checkpoints of a training, averaged, often translate better than any one of them.
#include <fmt/core.h>

#include <cmath>
#include <vector>

#include "args.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "outputs.hpp"

namespace translator {

namespace fs = std::filesystem;
using namespace tg;

int cmd_average(const Argv& argv) {
    // The checkpoints are the arguments that are neither options nor an option's value.
    Argv options;
    std::vector<fs::path> inputs;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (argv[i].rfind("--", 0) == 0) {
            options.push_back(argv[i]);
            if ((argv[i] == "--out" || argv[i] == "--threads") && i + 1 < argv.size()) options.push_back(argv[++i]);
        } else {
            inputs.emplace_back(argv[i]);
        }
    }
    Args args("average", "CHECKPOINT CHECKPOINT ... --out DIR",
              {{"--out", "DIR", "the averaged model: a new folder, or a model checkpoint to replace", "", true},
               {"--force", "", "replace a checkpoint of another kind at --out", ""}},
              options);
    if (inputs.size() < 2) throw UsageError(fmt::format("{} checkpoint(s) given: averaging needs two or more", inputs.size()));
    std::vector<fs::path> guarded = inputs;
    check_checkpoint_output(args.text("--out"), "--out", guarded, "model", args.flag("--force"));
    // A training's checkpoint holds more than a model (its optimizer, state and log: what --resume
    // needs); replacing it with an average loses them, so only with --force, as train asks.
    if (fs::exists(tg::checkpoint_path(args.text("--out")) / "train_state.txt") && !args.flag("--force"))
        throw UsageError(fmt::format("--out {}: holds a training's checkpoint (train_state.txt, its optimizer and log, which "
                                     "--resume needs); an average would replace them: name a new folder, or add --force",
                                     args.text("--out")));

    LoadedModel sum = load_model(inputs[0]);
    const std::string config = sum.model->config.str();
    const NamedParameters total = sum.model->named_parameters();
    // Summed in double: the sum of finite floats can overflow a float (3.4e38 twice) where the mean does not.
    std::vector<std::vector<double>> sums;
    for (const auto& [name, p] : total) sums.emplace_back(p->value().flat().begin(), p->value().flat().end());
    for (std::size_t k = 1; k < inputs.size(); ++k) {
        const LoadedModel m = load_model(inputs[k]);
        // One model only: the same architecture and sizes, vocabularies and subword models.
        auto differs = [&](const char* file) {
            return FileError(fmt::format("{}/{}: differs from {}'s: only checkpoints of one model can be averaged",
                                         inputs[k].string(), file, inputs[0].string()));
        };
        if (m.model->config.str() != config) throw differs("config.txt");
        if (m.src_vocab.text() != sum.src_vocab.text()) throw differs("src.vocab");
        if (m.tgt_vocab.text() != sum.tgt_vocab.text()) throw differs("tgt.vocab");
        if (m.subwords() != sum.subwords() || (m.subwords() && (m.src_subwords->bytes() != sum.src_subwords->bytes())))
            throw differs("src.spm");
        if (m.subwords() && m.tgt_subwords->bytes() != sum.tgt_subwords->bytes()) throw differs("tgt.spm");
        const NamedParameters params = m.model->named_parameters();
        for (std::size_t p = 0; p < total.size(); ++p) {
            Tensor& into = total[p].second->value();
            const Tensor& add = params[p].second->value();
            if (params[p].first != total[p].first || !(add.shape() == into.shape()))  // (the same config: never)
                throw differs((params[p].first + ".npy").c_str());
            for (std::size_t i = 0; i < into.numel(); ++i) sums[p][i] += static_cast<double>(add.data()[i]);
        }
    }
    for (std::size_t p = 0; p < total.size(); ++p) {
        float* into = total[p].second->value().data();
        for (std::size_t i = 0; i < sums[p].size(); ++i) {
            const double mean = sums[p][i] / static_cast<double>(inputs.size());
            into[i] = static_cast<float>(mean);
            if (!std::isfinite(into[i]))
                throw NumericError(fmt::format("{}[{}]: the average is {} (not a finite float); nothing was written", total[p].first, i,
                                               mean));
        }
    }
    CheckpointWriter w(args.text("--out"), "model", args.flag("--force"));
    add_model(w, *sum.model, sum.src_vocab, sum.tgt_vocab, sum.src_subwords.get(), sum.tgt_subwords.get());
    w.commit();
    fmt::print("averaged {} checkpoints into {}\n", inputs.size(), args.text("--out"));
    return 0;
}

}  // namespace translator
