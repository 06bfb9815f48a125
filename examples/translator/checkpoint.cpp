#include "checkpoint.hpp"

#include <fmt/format.h>

#include "io/npy.hpp"

namespace translator {

namespace fs = std::filesystem;
using namespace tg;

namespace {

LoadedModel load_model_once(const fs::path& dir_in) {
    const fs::path dir = checkpoint_dir_to_read(dir_in);  // or DIR.old, left by an interrupted save
    verify_checkpoint(dir);  // vocabularies and weights saved together, unchanged since
    if (const std::string kind = tg::checkpoint_kind(dir); !kind.empty() && kind != "model")
        throw FileError(fmt::format("{}: holds a checkpoint of kind '{}'{}, not a model to translate with", dir.string(), printable(kind),
                                    kind == "gradients" ? " (translator grads' output)" : ""));
    LoadedModel m;
    m.src_vocab = text::Vocab::load(dir / "src.vocab");
    m.tgt_vocab = text::Vocab::load(dir / "tgt.vocab");
    if (fs::exists(dir / "src.spm") != fs::exists(dir / "tgt.spm"))
        throw FileError(fmt::format("{}: has {} but not {}: a subword model needs both", dir.string(),
                                    fs::exists(dir / "src.spm") ? "src.spm" : "tgt.spm", fs::exists(dir / "src.spm") ? "tgt.spm" : "src.spm"));
    if (fs::exists(dir / "src.spm")) {
        m.src_subwords = std::make_shared<const Subwords>(Subwords::load(read_text(dir / "src.spm"), (dir / "src.spm").string()));
        m.tgt_subwords = std::make_shared<const Subwords>(Subwords::load(read_text(dir / "tgt.spm"), (dir / "tgt.spm").string()));
    }
    auto shape_of = [&](const std::string& name) {
        const fs::path p = dir / (name + ".npy");
        if (!fs::exists(p)) throw FileError(fmt::format("{}: missing: every checkpoint has '{}'", p.string(), name));
        return load_npy(p).shape();
    };
    auto expect_rank2 = [&](const std::string& name, const Shape& s) {
        if (s.rank() != 2) throw FileError(fmt::format("{}/{}.npy: shape {}, expected a matrix", dir.string(), name, s.str()));
        if (s[0] == 0 || s[1] == 0)  // every size of the model is at least 1
            throw FileError(fmt::format("{}/{}.npy: shape {} has a dimension of size 0", dir.string(), name, s.str()));
    };
    const Shape src = shape_of("src_embed.weight"), tgt = shape_of("tgt_embed.weight");
    expect_rank2("src_embed.weight", src);
    expect_rank2("tgt_embed.weight", tgt);
    if (src[0] != m.src_vocab.size())
        throw FileError(fmt::format("{}/src_embed.weight.npy: {} rows, but src.vocab has {} words", dir.string(), src[0],
                                    m.src_vocab.size()));
    if (tgt[0] != m.tgt_vocab.size())
        throw FileError(fmt::format("{}/tgt_embed.weight.npy: {} rows, but tgt.vocab has {} words", dir.string(), tgt[0],
                                    m.tgt_vocab.size()));
    // The model as saved: config.txt. A folder without one (only the .npy files and the vocabularies)
    // is read from the parameters' shapes: the sizes, attention when attention.* files are there (the
    // paper's additive attention), a deep output when deep_output.* files are.
    ModelConfig c;
    std::error_code ec;
    if (fs::exists(fs::symlink_status(dir / "config.txt", ec))) {  // (a broken or looping link too: reading it says what is wrong)
        c = ModelConfig::parse(read_text(dir / "config.txt"), (dir / "config.txt").string());
    } else {  // (round 1's checkpoints: RNNsearch)
        const Shape hh = shape_of("encoder.fwd.weight_hh");
        expect_rank2("encoder.fwd.weight_hh", hh);
        c.emb = src[1];
        c.hidden = hh[1];
        c.attention = fs::exists(dir / "attention.key.weight.npy") ? "additive" : "none";
        if (c.has_attention()) {
            const Shape key = shape_of("attention.key.weight");
            expect_rank2("attention.key.weight", key);
            c.attn = key[0];
        }
// <doc:optional-module>
        if (fs::exists(dir / "deep_output.weight.npy")) {
            const Shape deep = shape_of("deep_output.weight");
            expect_rank2("deep_output.weight", deep);
            c.deep_output = deep[0] / 2;  // two pieces per unit
        }
// </doc:optional-module>
    }
    c.src_vocab = src[0];
    c.tgt_vocab = tgt[0];
    Generator gen(0);
    m.model = make_model(c, gen);
    load_module(dir, *m.model);  // every file present, every shape right, nothing unexpected
    return m;
}

}  // namespace

LoadedModel load_model(const fs::path& dir) {
    // One complete save, even while a training saves into the folder (io/checkpoint.hpp).
    return read_consistently(dir, load_model_once);
}

text::Sentence LoadedModel::source_units(const text::Sentence& words) const {
    return src_subwords ? src_subwords->encode(text::join_words(words)) : words;
}

std::string LoadedModel::target_text(const std::vector<std::int32_t>& ids) const {
    const text::Sentence units = tgt_vocab.decode(ids);
    return tgt_subwords ? tgt_subwords->decode(units) : text::join_words(units);
}

void add_model(CheckpointWriter& w, const TranslationModel& model, const text::Vocab& src, const text::Vocab& tgt,
               const Subwords* src_subwords, const Subwords* tgt_subwords) {
    save_module(w, model);
    w.add_text("src.vocab", src.text());
    w.add_text("tgt.vocab", tgt.text());
    if (src_subwords && tgt_subwords) {
        w.add_text("src.spm", src_subwords->bytes());
        w.add_text("tgt.spm", tgt_subwords->bytes());
    }
    w.add_text("config.txt", model.config.str());
}

}  // namespace translator
