// The translator's command line, run as a user would: --help everywhere, exit status 2 with the
// argument's name for a bad command line, 1 with the file and line for a bad file, and a short
// generate -> train -> eval -> translate -> attention -> grads -> resume session.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli_helpers.hpp"
#include "text/corpus.hpp"
#include "helpers.hpp"
#include "io/files.hpp"
#include "io/npy.hpp"

namespace fs = std::filesystem;
using namespace tg::test;

namespace {

std::string bytes_of_all_npy(const fs::path& dir) {
    std::string all;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".npy") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) all += f.filename().string() + tg::read_text(f);
    return all;
}

}  // namespace

TEST_CASE("CLI: --help everywhere") {
    CHECK_RUN(run("--help"), 0, "usage: translator COMMAND");
    for (const char* cmd : {"generate", "train", "eval", "translate", "attention", "grads"}) {
        CAPTURE(cmd);
        CHECK_RUN(run(std::string(cmd) + " --help"), 0, "usage: translator", cmd, "--help");
    }
}

TEST_CASE("CLI: a bad command line exits 2 and names the argument") {
    CHECK_RUN(run("frobnicate"), 2, "frobnicate", "unknown command");
    CHECK_RUN(run("generate --task local --n 0 --seed 1 --out x"), 2, "--n", "from 1");
    CHECK_RUN(run("generate --task nope --n 5 --seed 1 --out x"), 2, "--task", "nope");
    CHECK_RUN(run("generate --task local --seed 1 --out x"), 2, "--n", "required");
    CHECK_RUN(run("generate --task local --n 5 --seed 1 --out x --min-len 9 --max-len 3"), 2, "--min-len");
    CHECK_RUN(run("train --train a.tsv --valid b.tsv --out c --batch 0"), 2, "--batch", "'0'");
    CHECK_RUN(run("train --train a.tsv --valid b.tsv --out c --lr fast"), 2, "--lr", "'fast'");
    CHECK_RUN(run("train --train a.tsv --valid b.tsv --out c --bogus"), 2, "--bogus", "unknown option");
    CHECK_RUN(run("train --train a.tsv --valid b.tsv --out c --lr-decay cosine"), 2, "--lr-decay cosine", "none, linear or inverse-sqrt");
    CHECK_RUN(run("train --train a.tsv --valid b.tsv --out c --label-smoothing 1"), 2, "--label-smoothing", "'1'");
    CHECK_RUN(run("train --train a.tsv --out c"), 2, "--valid", "required");
    CHECK_RUN(run("train --train a.tsv --valid b.tsv --out c --epochs"), 2, "--epochs", "missing its value");
    CHECK_RUN(run("eval --checkpoint x"), 2, "--data", "required");
    CHECK_RUN(run("eval --checkpoint x --data y --beam 0"), 2, "--beam");
    CHECK_RUN(run("translate --checkpoint x --threads -1"), 2, "--threads");
}

TEST_CASE("CLI: a bad file exits 1 and names the file and line") {
    Workdir w;
    tg::write_file_atomically(w / "bad.tsv", "a b\tc d\ne f\tg\nno tab on this line\n");
    CHECK_RUN(run("train --train " + w / "bad.tsv" + " --valid " + w / "bad.tsv" + " --out " + w / "m"), 1,
              "bad.tsv:3:", "no tab");
    CHECK_RUN(run("eval --checkpoint " + w / "missing" + " --data " + w / "bad.tsv"), 1, "missing", "not found");
    CHECK_RUN(run("train --train " + w / "none.tsv" + " --valid " + w / "none.tsv" + " --out " + w / "m"), 1,
              "none.tsv", "cannot open");
}

TEST_CASE("CLI: generate, train, eval, translate, attention, grads, a bare checkpoint, and exact resumption") {
    Workdir w;
    const std::string gen = "generate --task local --max-len 6 ";
    CHECK_RUN(run(gen + "--n 400 --seed 1 --split train --out " + w / "train"), 0, "wrote 400 pairs");
    CHECK_RUN(run(gen + "--n 40 --seed 2 --split valid --out " + w / "valid"), 0);
    CHECK_RUN(run(gen + "--n 40 --seed 3 --split test --out " + w / "test"), 0);
    CHECK(tg::read_text(w / "train.tsv") == [&] {  // deterministic per seed
        run(gen + "--n 400 --seed 1 --split train --out " + w / "again");
        return tg::read_text(w / "again.tsv");
    }());

    const std::string train = "train --train " + w / "train.tsv" + " --valid " + w / "valid.tsv" +
                              " --emb 8 --hidden 16 --attn 8 --batch 16 --seed 3 ";
    CHECK_RUN(run(train + "--epochs 2 --out " + w / "full"), 0, "valid loss", "best, saved");
    for (const char* f : {"src.vocab", "tgt.vocab", "config.txt", "train_state.txt", "decoder.weight_ih.npy",
                          "attention.v.npy", "optimizer/exp_avg.output.weight.npy"})
        CHECK_MESSAGE(fs::exists(w.path / "full" / f), f);

    // Resumption: one epoch, then --resume for the second, ends in the same parameters bit for bit.
    CHECK_RUN(run(train + "--epochs 1 --out " + w / "split"), 0);
    CHECK_RUN(run(train + "--epochs 2 --resume " + w / "split" + " --out " + w / "split"), 0, "resuming");
    const fs::path resumed = fs::exists(w.path / "split" / "last") ? w.path / "split" / "last" : w.path / "split";
    const fs::path straight = fs::exists(w.path / "full" / "last") ? w.path / "full" / "last" : w.path / "full";
    CHECK(bytes_of_all_npy(resumed) == bytes_of_all_npy(straight));

    const Result text = run("eval --checkpoint " + w / "full" + " --data " + w / "test.tsv" + " --align " + w / "test.align");
    CHECK_RUN(text, 0, "exact match", "BLEU", "chrF2", "AER", "all");
    const Result json = run("eval --checkpoint " + w / "full" + " --data " + w / "test.tsv" + " --align " + w / "test.align" + " --json --beam 3");
    CHECK_RUN(json, 0, "{\"sentences\": 40, \"exact_match\": ", "\"bleu\": ", "\"chrf\": ", "\"aer\": ", "\"by_length\": [{\"bucket\": \"1-5\"",
              "\"bleu_signature\": \"nrefs:1|case:mixed|eff:no|tok:none|smooth:none\"", "\"chrf_signature\": \"nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no\"");

    CHECK_RUN(run("translate --checkpoint " + w / "full" + " --show-attention", "the cat\nsome unknown words\n"), 0,
              "source: 0=the  1=cat", "(<unk>)");
    CHECK_RUN(run("attention --checkpoint " + w / "full" + " --source \"the big dog\" --svg " + w / "a.svg" + " --csv " + w / "a.csv"), 0,
              "wrote");
    CHECK(tg::read_text(w / "a.svg").rfind("<svg", 0) == 0);
    CHECK(tg::read_text(w / "a.csv").rfind("target,\"the\",\"big\",\"dog\",\"</s>\"\n", 0) == 0);
    CHECK_RUN(run("grads --checkpoint " + w / "full" + " --data " + w / "valid.tsv" + " --out " + w / "grads"), 0, "loss");
    CHECK(fs::exists(w.path / "grads" / "attention.key.weight.npy"));

    // A checkpoint of only the .npy files and the vocabularies loads and gives the same results.
    fs::create_directories(w.path / "bare");
    for (const auto& e : fs::directory_iterator(w.path / "full"))
        if (e.path().extension() == ".npy" || e.path().extension() == ".vocab")
            fs::copy_file(e.path(), w.path / "bare" / e.path().filename());
    const Result bare = run("eval --checkpoint " + w / "bare" + " --data " + w / "test.tsv" + " --align " + w / "test.align");
    CHECK(bare.status == 0);
    CHECK(bare.output == text.output);

    // A sentence far longer than any seen in training still translates (into something).
    std::string long_sentence;
    for (int i = 0; i < 40; ++i) long_sentence += "the big dog sees a cat ";
    CHECK_RUN(run("translate --checkpoint " + w / "full", long_sentence + "\n"), 0);

    // NaN in training: the run stops before the step, names the op, and leaves the checkpoint as it was.
    fs::copy(w.path / "full", w.path / "poisoned", fs::copy_options::recursive);
    const fs::path latest = fs::exists(w.path / "poisoned" / "last") ? w.path / "poisoned" / "last" : w.path / "poisoned";
    tg::Tensor weight = tg::load_npy(latest / "bridge.weight.npy");
    weight.data()[0] = std::nanf("");
    tg::save_npy(latest / "bridge.weight.npy", weight);
    const std::string before = bytes_of_all_npy(latest);
    // (a NaN saved in a weight is refused as the checkpoint loads, naming the file; one made by training
    // is test_translator.cpp's "training as a function")
    CHECK_RUN(run(train + "--epochs 5 --resume " + w / "poisoned" + " --out " + w / "poisoned"), 1, "bridge.weight.npy",
              "not finite");
    CHECK(bytes_of_all_npy(latest) == before);

    // A parameter file that does not fit is named.
    tg::write_file_atomically(w / "bare/tgt.vocab", "<pad>\n<unk>\n<s>\n</s>\nonly\n");
    CHECK_RUN(run("eval --checkpoint " + w / "bare" + " --data " + w / "test.tsv"), 1, "tgt_embed.weight.npy", "tgt.vocab");
}

TEST_CASE("CLI: the defaults train --help shows are the ones a training without options uses") {
    // Each default is written once (kTrainDefaults, ModelConfig) and the help is built from it: a
    // training given no option must save exactly the settings the help names.
    Workdir w;
    const std::string gen = "generate --task local --max-len 4 ";
    REQUIRE(run(gen + "--n 40 --seed 1 --split train --out " + w / "train").status == 0);
    REQUIRE(run(gen + "--n 8 --seed 2 --split valid --out " + w / "valid").status == 0);
    const std::string help = run("train --help").output;
    auto shown = [&](const std::string& option) {  // "--lr X   Adam learning rate (default 0.001)" -> "0.001"
        const std::size_t at = help.find("\n  " + option + " ");
        REQUIRE(at != std::string::npos);
        const std::size_t end = help.find('\n', at + 1), d = help.rfind("(default ", end);
        REQUIRE(d != std::string::npos);
        REQUIRE(d > at);
        return help.substr(d + 9, help.find(')', d) - d - 9);
    };
    CHECK_RUN(run("train --train " + w / "train.tsv" + " --valid " + w / "valid.tsv" + " --epochs 1 --out " + w / "m"), 0,
              "best, saved");
    const std::string state = tg::read_text(w.path / "m" / "train_state.txt");
    const std::string config = tg::read_text(w.path / "m" / "config.txt");
    auto saved = [](const std::string& text, const std::string& key) {  // "lr 0.001\n" -> 0.001
        const std::size_t at = text.find("\n" + key + " ") != std::string::npos ? text.find("\n" + key + " ") + 1 : text.find(key + " ");
        REQUIRE(at != std::string::npos);
        return text.substr(at + key.size() + 1, text.find('\n', at) - at - key.size() - 1);
    };
    for (const auto& [option, key] : {std::pair{"--batch", "batch_size"}, std::pair{"--max-len", "max_len"},
                                      std::pair{"--min-count", "min_count"}, std::pair{"--seed", "seed"},
                                      std::pair{"--lr", "lr"}, std::pair{"--clip", "clip"}, std::pair{"--dropout", "dropout"},
                                      std::pair{"--label-smoothing", "label_smoothing"}}) {
        CAPTURE(option);
        CHECK(std::stod(saved(state, key)) == std::stod(shown(option)));
    }
    CHECK(saved(state, "lr_decay") == shown("--lr-decay"));
    for (const auto& [option, key] : {std::pair{"--emb", "emb"}, std::pair{"--hidden", "hidden"}, std::pair{"--attn", "attn"},
                                      std::pair{"--deep-output", "deep_output"}}) {
        CAPTURE(option);
        CHECK(saved(config, key) == shown(option));
    }
}

TEST_CASE("CLI: --attention chooses the score function, saved in config.txt and loaded from it") {
    Trained& t = trained();
    Workdir w;
    // Each new score function trains, saves its configuration, and loads back for eval and translate.
    for (const std::string kind : {"general", "multi_head"}) {
        CAPTURE(kind);
        const std::string out = w / ("m-" + kind);
        const std::string said = "with " + kind + " attention";
        CHECK_RUN(run("train " + t.data + "--epochs 1 --emb 8 --hidden 16 --batch 16 --attention " + kind + " --out " + out), 0,
                  said.c_str());
        CHECK(tg::read_text(out + "/config.txt").find("attention " + kind + "\n") != std::string::npos);
        CHECK_RUN(run("eval --checkpoint " + out + " --data " + t.w / "valid.tsv"), 0, "exact match");
        CHECK_RUN(run("attention --checkpoint " + out + " --source \"a b\" --svg " + w / (kind + ".svg")), 0);
    }
    // --cell lstm: an LSTM encoder and decoder, saved as such and loaded back
    CHECK_RUN(run("train " + t.data + "--epochs 1 --emb 8 --hidden 16 --batch 16 --cell lstm --out " + w / "lstm"), 0,
              "RNNsearch (lstm)");
    CHECK(tg::read_text(w / "lstm/config.txt").find("cell lstm\n") != std::string::npos);
    CHECK(tg::load_npy(w.path / "lstm" / "decoder.weight_hh.npy").shape() == tg::Shape{64, 16});  // 4 gates
    CHECK_RUN(run("eval --checkpoint " + w / "lstm" + " --data " + t.w / "valid.tsv" + " --beam 2"), 0, "exact match");
    CHECK_RUN(run("train " + t.data + "--epochs 2 --cell gru --resume " + w / "lstm" + " --out " + w / "lstm"), 2,
              "--cell gru", "has cell lstm");
    CHECK_RUN(run("train " + t.data + "--cell rnn --out " + w / "x"), 2, "--cell rnn");
    // --tie-embeddings: one weight for the target embedding and the output layer
    CHECK_RUN(run("train " + t.data + "--epochs 1 --emb 8 --hidden 16 --batch 16 --deep-output 8 --tie-embeddings --out " + w / "tied"), 0);
    CHECK_FALSE(fs::exists(w.path / "tied" / "output.weight.npy"));
    CHECK(fs::exists(w.path / "tied" / "output.bias.npy"));
    CHECK_RUN(run("translate --checkpoint " + w / "tied" + " --beam 2", "a b\n"), 0);
    CHECK_RUN(run("train " + t.data + "--emb 8 --tie-embeddings --out " + w / "x"), 2, "--tie-embeddings", "--deep-output 8");
    // dot compares H with 2 x the encoder's size per direction: H / 2 unless told otherwise
    CHECK_RUN(run("train " + t.data + "--epochs 1 --emb 8 --hidden 16 --batch 16 --attention dot --out " + w / "dot"), 0);
    CHECK(tg::read_text(w / "dot/config.txt").find("encoder_hidden 8\n") != std::string::npos);
    // what cannot work is refused before anything is built, naming the options
    CHECK_RUN(run("train " + t.data + "--attention luong --out " + w / "x"), 2, "--attention luong", "additive, dot, general");
    CHECK_RUN(run("train " + t.data + "--attention dot --hidden 15 --out " + w / "x"), 2, "--attention dot", "--hidden 15");
    CHECK_RUN(run("train " + t.data + "--attention dot --attn 8 --out " + w / "x"), 2, "--attn");
    CHECK_RUN(run("train " + t.data + "--heads 2 --out " + w / "x"), 2, "--heads", "multi_head");
    CHECK_RUN(run("train " + t.data + "--attention multi_head --heads 3 --hidden 16 --out " + w / "x"), 2, "--heads 3", "--hidden 16");
    CHECK_RUN(run("train " + t.data + "--attention dot --no-attention --out " + w / "x"), 2, "--no-attention", "--attention dot");
    CHECK_FALSE(std::filesystem::exists(w / "x"));
    // resuming keeps the model: another score function is refused
    CHECK_RUN(run("train " + t.data + "--epochs 2 --attention dot --resume " + w / "m-general" + " --out " + w / "m-general"), 2,
              "--attention dot", "has attention general");
}

TEST_CASE("CLI: translate --n-best, --length-penalty and --alignment, in Moses' and Marian's formats") {
    Trained& t = trained();
    Workdir w;
    const std::string source = tg::read_text(t.w / "valid.tsv").substr(0, tg::read_text(t.w / "valid.tsv").find('\t'));
    tg::write_file_atomically(w / "in.txt", source + "\n" + source + "\n");
    const std::string translate = "translate --checkpoint " + t.model + " < " + w / "in.txt";
    const tg::test::Result beam = run(translate + " --beam 3");
    const tg::test::Result nbest = run(translate + " --beam 3 --n-best 3 --length-penalty 0.6");
    REQUIRE(beam.status == 0);
    REQUIRE(nbest.status == 0);
    std::istringstream lines(nbest.output);
    std::string line;
    std::vector<std::string> first_of;
    int count = 0;
    double previous = 0;
    while (std::getline(lines, line)) {  // "i ||| translation ||| score", 3 a line of input, ranks falling
        const auto a = line.find(" ||| "), b = line.rfind(" ||| ");
        REQUIRE(a != std::string::npos);
        REQUIRE(b > a);
        const int i = std::stoi(line.substr(0, a));
        const double score = std::stod(line.substr(b + 5));
        CHECK(i == count / 3);
        if (count % 3 == 0) first_of.push_back(line.substr(a + 5, b - a - 5));
        else CHECK(score <= previous);
        previous = score;
        ++count;
    }
    CHECK(count == 6);
    // (the default rank and GNMT's at 0.6 may pick different bests: compare with the same penalty)
    const tg::test::Result same = run(translate + " --beam 3 --length-penalty 0.6");
    CHECK(same.output == first_of[0] + "\n" + first_of[1] + "\n");
    // --alignment hard: "translation ||| j-i ...", one link per target word, within the sentence
    const tg::test::Result hard = run(translate + " --alignment hard");
    REQUIRE(hard.status == 0);
    const std::string first = hard.output.substr(0, hard.output.find('\n'));
    const std::string links = first.substr(first.find(" ||| ") + 5);
    const std::size_t target_words = tg::text::split_words(first.substr(0, first.find(" ||| "))).size();
    CHECK(tg::text::parse_alignment(links, "hard", 1).size() == target_words);
    const tg::test::Result soft = run(translate + " --alignment soft");
    REQUIRE(soft.status == 0);
    CHECK(soft.output.find(',') != std::string::npos);
    CHECK_RUN(run(translate + " --beam 2 --n-best 3"), 2, "--n-best 3", "--beam 2");
    CHECK_RUN(run(translate + " --length-penalty 1"), 2, "--length-penalty", "--beam");
    CHECK_RUN(run(translate + " --alignment fuzzy"), 2, "--alignment fuzzy");
}

TEST_CASE("CLI: average of checkpoints: the mean of every parameter; only checkpoints of one model") {
    Trained& t = trained();
    Workdir w;
    CHECK_RUN(run(t.train + "--epochs 2 --out " + w / "b"), 0);  // the same model, trained further
    CHECK_RUN(run("average " + t.model + " " + w / "b" + " --out " + w / "avg"), 0, "averaged 2 checkpoints");
    for (const char* name : {"output.weight.npy", "encoder.fwd.weight_hh.npy", "attention.v.npy"}) {
        CAPTURE(name);
        const tg::Tensor a = tg::load_npy(fs::path(t.model) / name), b = tg::load_npy(w.path / "b" / name),
                         avg = tg::load_npy(w.path / "avg" / name);
        for (std::size_t i = 0; i < avg.numel(); ++i) CHECK(avg.data()[i] == doctest::Approx((a.data()[i] + b.data()[i]) / 2).epsilon(1e-6));
    }
    CHECK(tg::read_text(w / "avg/src.vocab") == tg::read_text(t.model + "/src.vocab"));
    CHECK_RUN(run("eval --checkpoint " + w / "avg" + " --data " + t.w / "valid.tsv"), 0, "exact match");
    // another model: refused, naming the file that differs; nothing written
    CHECK_RUN(run("train " + t.data + "--epochs 1 --emb 8 --hidden 8 --batch 16 --out " + w / "small"), 0);
    CHECK_RUN(run("average " + t.model + " " + w / "small" + " --out " + w / "bad"), 1, "config.txt", "one model");
    CHECK_FALSE(fs::exists(w.path / "bad"));
    CHECK_RUN(run("average " + t.model + " --out " + w / "bad"), 2, "two or more");
    CHECK_RUN(run("average " + t.model + " " + w / "b" + " --out " + t.model), 2, "--out");  // never over an input
}

TEST_CASE("CLI: the Transformer, trained, evaluated, translated and drawn like RNNsearch; its options its own") {
    Trained& t = trained();
    Workdir w;
    const std::string model = w / "tf";
    CHECK_RUN(run("train " + t.data + "--arch transformer --model-dim 8 --ff-dim 16 --heads 2 --layers 2 --batch 16 --epochs 1 "
                  "--warmup 10 --lr-decay inverse-sqrt --out " + model),
              0, "Transformer (2 + 2 layers, d_model 8, 2 heads, d_ff 16, post-norm)");
    CHECK(tg::read_text(fs::path(model) / "config.txt").find("arch transformer\n") != std::string::npos);
    // eval with gold alignments: AER of the default view, and of the best single head
    CHECK_RUN(run("eval --checkpoint " + model + " --data " + t.w / "valid.tsv" + " --align " + t.w / "valid.align"), 0, "AER",
              "the best single head: layer ");
    CHECK_RUN(run("eval --json --checkpoint " + model + " --data " + t.w / "valid.tsv" + " --align " + t.w / "valid.align"), 0,
              "\"aer_best_head\": {\"layer\": ");
    // beam search, n-best and a drawing of one layer's one head
    CHECK_RUN(run("translate --checkpoint " + model + " --beam 3 --n-best 2", "a b c\n"), 0, "0 ||| ");
    CHECK_RUN(run("translate --checkpoint " + model + " --show-attention --layer 1 --head 2", "a b c\n"), 0,
              "layer 1 of 2, head 2 of 2");
    CHECK_RUN(run("attention --checkpoint " + model + " --source \"a b c\" --layer 2 --svg " + w / "h.svg"), 0, "wrote");
    CHECK(tg::read_text(w / "h.svg").find("layer 2, heads averaged") != std::string::npos);
    // what does not fit is refused, naming the option
    CHECK_RUN(run("translate --checkpoint " + model + " --show-attention --layer 3", "a b\n"), 2, "--layer", "3");
    CHECK_RUN(run("attention --checkpoint " + t.model + " --source \"a b\" --head 1 --svg " + w / "r.svg"), 2, "--head",
              "RNNsearch");
    CHECK_RUN(run("train " + t.data + "--arch transformer --hidden 8 --out " + w / "x"), 2, "--hidden", "--arch transformer");
    CHECK_RUN(run("train " + t.data + "--layers 2 --out " + w / "y"), 2, "--layers", "--arch transformer");
    CHECK_RUN(run("train " + t.data + "--arch transformer --model-dim 10 --heads 4 --out " + w / "z"), 2, "--heads 4", "--model-dim 10");
    CHECK_RUN(run("train " + t.data + "--arch lstm --out " + w / "v"), 2, "--arch lstm");
}
