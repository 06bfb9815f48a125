// Real text through subword units: SentencePiece round trips, and a tiny real-text training run
// (pairs made here, no network) whose checkpoint, translations, scores and attention speak text.
#include <filesystem>

#include "cli_helpers.hpp"
#include "io/files.hpp"
#include "subwords.hpp"
#include "text/metrics.hpp"

namespace fs = std::filesystem;
using namespace tg::test;
using translator::Subwords;

namespace {

// Sentences of a small made-up language pair with capitals, punctuation and accents: the target
// is the source word by word through a dictionary, its adjective after the noun, and "¡...!" for "!".
std::vector<std::pair<std::string, std::string>> made_up_pairs(std::size_t n) {
    const std::vector<std::pair<std::string, std::string>> nouns = {{"cat", "gato"}, {"dog", "perro"}, {"house", "casa"},
                                                                    {"tree", "árbol"}, {"river", "río"}, {"child", "niño"}};
    const std::vector<std::pair<std::string, std::string>> adjs = {{"big", "grande"}, {"small", "pequeño"}, {"green", "verde"}};
    const std::vector<std::pair<std::string, std::string>> verbs = {{"sees", "ve"}, {"likes", "quiere"}, {"paints", "pinta"}};
    tg::Generator g(11);
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto& a = nouns[g.next_u64() % nouns.size()];
        const auto& adj = adjs[g.next_u64() % adjs.size()];
        const auto& v = verbs[g.next_u64() % verbs.size()];
        const auto& b = nouns[g.next_u64() % nouns.size()];
        const bool shout = g.next_u64() % 3 == 0;
        std::string en = "The " + adj.first + " " + a.first + " " + v.first + " the " + b.first + (shout ? "!" : ".");
        std::string es = std::string(shout ? "¡" : "") + "El " + a.second + " " + adj.second + " " + v.second + " el " + b.second +
                         (shout ? "!" : ".");
        out.emplace_back(en, es);
    }
    return out;
}

}  // namespace

TEST_CASE("SentencePiece: pieces mark word starts, and decoding gives the text back") {
    std::vector<std::string> text;
    for (const auto& [en, es] : made_up_pairs(300)) text.push_back(es);
    const Subwords sw = Subwords::train(text, 60);
    const std::string line = "¡El niño pequeño pinta el árbol!";
    const tg::text::Sentence pieces = sw.encode(line);
    CHECK(pieces.size() >= 7);
    CHECK(pieces[0].rfind("\xE2\x96\x81", 0) == 0);  // "▁": the first piece starts a word
    CHECK(sw.decode(pieces) == line);
    const auto words = Subwords::word_of_piece(pieces);
    CHECK(words.front() == 0);
    CHECK(words.back() == 5);  // six words
    // Saved and loaded: the same model.
    const Subwords again = Subwords::load(sw.bytes(), "x.spm");
    CHECK(again.encode(line) == pieces);
    CHECK_THROWS_AS(Subwords::load("not a model", "x.spm"), tg::FileError);
}

TEST_CASE("a tiny real-text run: train --subwords, then eval, translate and attention speak text") {
    Workdir w;
    std::string train, valid;
    const auto pairs = made_up_pairs(700);
    for (std::size_t i = 0; i < pairs.size(); ++i) (i < 600 ? train : valid) += pairs[i].first + "\t" + pairs[i].second + "\r\n";
    tg::write_file_atomically(w / "train.tsv", "\xEF\xBB\xBF" + train);  // as exported on Windows: BOM and CRLF
    tg::write_file_atomically(w / "valid.tsv", valid);
    CHECK_RUN(run("train --train " + w / "train.tsv" + " --valid " + w / "valid.tsv" + " --out " + w / "m" +
                  " --subwords 80 --emb 16 --hidden 32 --attn 16 --batch 16 --epochs 12 --lr 3e-3"), 0, "best, saved");
    CHECK(fs::exists(w.path / "m" / "src.spm"));
    CHECK(tg::read_text(w / "m/tapegrad-checkpoint.txt").find("file tgt.spm text ") != std::string::npos);

    // eval: BLEU on detokenized text with 13a tokens; a model this small learns this much.
    const Result json = run("eval --checkpoint " + w / "m" + " --data " + w / "valid.tsv" + " --json --out-hyp " + w / "hyp.txt");
    CHECK_RUN(json, 0, "\"bleu_tokenize\": \"13a\"");
    const double bleu = std::stod(json.output.substr(json.output.find("\"bleu\": ") + 8));
    MESSAGE("BLEU of the tiny subword model on its validation pairs: " << bleu);
    CHECK(bleu > 50.0);
    const std::string hyp = tg::read_text(w / "hyp.txt");
    CHECK(hyp.find("\xE2\x96\x81") == std::string::npos);  // text, not pieces
    CHECK(hyp.rfind("El ", 0) == 0);

    // translate reads and writes ordinary text.
    const Result t = run("translate --checkpoint " + w / "m", "The big dog sees the river.\n");
    CHECK(t.status == 0);
    CHECK(t.output.find("\xE2\x96\x81") == std::string::npos);
    CHECK(t.output.find("perro") != std::string::npos);

    // attention: pieces by default, words with --words (6 source words + </s> columns).
    CHECK_RUN(run("attention --checkpoint " + w / "m" + " --source 'The big dog sees the river.' --svg " + w / "a.svg" + " --csv " +
                  w / "p.csv"), 0);
    CHECK_RUN(run("attention --checkpoint " + w / "m" + " --source 'The big dog sees the river.' --words --svg " + w / "b.svg" +
                  " --csv " + w / "w.csv"), 0);
    const std::string words_csv = tg::read_text(w / "w.csv"), pieces_csv = tg::read_text(w / "p.csv");
    CHECK(words_csv.substr(0, words_csv.find('\n')) == "target,\"The\",\"big\",\"dog\",\"sees\",\"the\",\"river.\",\"</s>\"");
    CHECK(pieces_csv.find("\xE2\x96\x81") != std::string::npos);
    // Merged rows still sum to 1.
    std::istringstream rows(words_csv);
    std::string row;
    std::getline(rows, row);
    while (std::getline(rows, row)) {
        double sum = 0;
        for (std::size_t p = row.find(",\"", 0) == 0 ? 0 : row.rfind('"') + 1; (p = row.find(',', p)) != std::string::npos; ++p)
            sum += std::stod(row.substr(p + 1));
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-4));
    }
    // Alignments are between words: refused for a subword model, with the reason.
    CHECK_RUN(run("eval --checkpoint " + w / "m" + " --data " + w / "valid.tsv" + " --out-align " + w / "x.align"), 2, "subword");
}
