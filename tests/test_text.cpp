// Text utilities: BLEU and AER against hand-computed cases, corpus and alignment parsing with
// their errors, vocabularies and batching.
#include "helpers.hpp"
#include "io/files.hpp"
#include "text/batching.hpp"
#include "text/corpus.hpp"
#include "text/metrics.hpp"

using namespace tg;
using namespace tg::text;

static Sentence words(const std::string& s) { return split_words(s); }

TEST_CASE("BLEU: hand-computed cases") {
    const std::vector<Sentence> ref = {words("the cat sat on a mat")};
    // identical: every precision 1, no brevity penalty
    CHECK(corpus_bleu(ref, ref) == doctest::Approx(100.0));
    // precisions 5/6, 3/5, 2/4, 1/3 ("the" is clipped to one match); same length
    const double expected = 100.0 * std::pow(5.0 / 6 * 3.0 / 5 * 2.0 / 4 * 1.0 / 3, 0.25);
    CHECK(corpus_bleu(std::vector<Sentence>{words("the cat sat on the mat")}, ref) == doctest::Approx(expected));
    CHECK(expected == doctest::Approx(53.728).epsilon(1e-4));
    // all precisions 1 but 4 words for 6: brevity penalty exp(1 - 6/4)
    CHECK(corpus_bleu(std::vector<Sentence>{words("the cat sat on")}, ref) == doctest::Approx(100.0 * std::exp(-0.5)));
    // no 4-gram in common: 0 without smoothing
    CHECK(corpus_bleu(std::vector<Sentence>{words("mat a on sat cat the")}, ref) == 0.0);
    // corpus level: counts are summed over sentences before the mean, not averaged per sentence
    const std::vector<Sentence> hyps = {words("a b c d"), words("a b c d e f")};
    const std::vector<Sentence> refs = {words("a b c d"), words("a b c d e g")};
    // 1-grams 9/10, 2-grams 7/8, 3-grams 5/6, 4-grams 3/4; lengths 10 and 10
    CHECK(corpus_bleu(hyps, refs) == doctest::Approx(100.0 * std::pow(0.9 * 0.875 * (5.0 / 6) * 0.75, 0.25)));
}

TEST_CASE("AER: hand-computed cases") {
    AlignmentScore s;
    s.add({{0, 0}, {1, 1}, {2, 1}}, {{0, 0}, {1, 1}, {2, 2}});  // 2 of 3 right
    CHECK(s.aer() == doctest::Approx(1.0 - 4.0 / 6.0));
    s.add({{0, 0}}, {{0, 0}, {1, 0}});  // a sentence more: 3 matched, 4 predicted, 5 gold
    CHECK(s.aer() == doctest::Approx(1.0 - 6.0 / 9.0));
    AlignmentScore perfect;
    perfect.add({{0, 1}, {1, 0}}, {{1, 0}, {0, 1}});
    CHECK(perfect.aer() == 0.0);
}

TEST_CASE("parallel text: pairs, and errors naming file, line and column") {
    auto pairs = parse_parallel("a b\tx y z\nc\tw\n", "f.tsv");
    REQUIRE(pairs.size() == 2);
    CHECK(pairs[0].source == words("a b"));
    CHECK(pairs[0].target == words("x y z"));
    CHECK_THROWS_WITH_ALL(parse_parallel("a\tb\nno tab here\n", "f.tsv"), FileError, "f.tsv:2:", "no tab");
    CHECK_THROWS_WITH_ALL(parse_parallel("a\tb\n \tb\n", "f.tsv"), FileError, "f.tsv:2:1:", "source side is empty");
    CHECK_THROWS_WITH_ALL(parse_parallel("a\t\n", "f.tsv"), FileError, "f.tsv:1:3:", "target side is empty");
    std::size_t extra = 0;  // a third column (Tatoeba, Anki): the first two are the pair, and it is counted
    const auto three = parse_parallel("\xEF\xBB\xBF" "a  b\tc\tCC-BY 2.0 (France) Attribution: tatoeba.org #1\r\nd\te\r\n", "f.tsv", &extra);
    REQUIRE(three.size() == 2);
    CHECK(three[0].source == Sentence{"a", "b"});  // no BOM, one word per run of spaces
    CHECK(three[0].target == Sentence{"c"});
    CHECK(three[1].target == Sentence{"e"});       // no '\r'
    CHECK(extra == 1);
    CHECK_THROWS_WITH_ALL(parse_parallel("ok\tfine\nab\xff\tc\n", "f.tsv"), FileError, "f.tsv:2:3:", "UTF-8");
    CHECK_THROWS_WITH_ALL(parse_parallel("", "f.tsv"), FileError, "f.tsv", "empty");
    CHECK_THROWS_WITH_ALL(parse_parallel(std::string(200000, 'a') + "\tb\n", "f.tsv"), FileError, "f.tsv:1:", "longer");
    CHECK_NOTHROW(parse_parallel("caf\xc3\xa9 \xe2\x86\x92\tb\r\n", "f.tsv"));  // UTF-8 and CRLF are fine
}

TEST_CASE("alignments: Pharaoh format, and errors naming file, line and column") {
    const auto pairs = parse_parallel("a b\tx y\nc\tz\n", "f.tsv");
    auto links = parse_alignments("0-0 1-1\n0-0\n", "f.align", &pairs);
    CHECK(links[0] == Alignment{{0, 0}, {1, 1}});
    CHECK(format_alignment(links[0]) == "0-0 1-1");
    CHECK_THROWS_WITH_ALL(parse_alignments("0-0 1x1\n0-0\n", "f.align", &pairs), FileError, "f.align:1:5:", "'1x1'");
    CHECK_THROWS_WITH_ALL(parse_alignments("0-0 2-1\n0-0\n", "f.align", &pairs), FileError, "f.align:1:5:", "outside");
    CHECK_THROWS_WITH_ALL(parse_alignments("0-0\n", "f.align", &pairs), FileError, "f.align", "1 lines", "2 sentence pairs");
}

TEST_CASE("vocabularies: specials first, frequency order, unknown words, strict loading") {
    const std::vector<Sentence> data = {words("b a b"), words("c b a")};
    Vocab v = Vocab::build(data);
    CHECK(v.size() == 7);
    CHECK(v.word(4) == "b");  // 3 times
    CHECK(v.word(5) == "a");  // 2 times
    CHECK(v.id("zzz") == Vocab::kUnk);
    CHECK(v.encode(words("a zzz"), true) == std::vector<std::int32_t>{5, 1, 3});
    CHECK(v.decode(std::vector<std::int32_t>{2, 5, 4, 3, 6}) == words("a b"));
    CHECK(Vocab::build(data, 2).size() == 6);  // "c" is below the minimum count

    const auto dir = std::filesystem::temp_directory_path() / "tapegrad-vocab-test";
    std::filesystem::create_directories(dir);
    write_file_atomically(dir / "ok.vocab", v.text());
    CHECK(Vocab::load(dir / "ok.vocab").text() == v.text());
    write_file_atomically(dir / "bad.vocab", "<pad>\n<unk>\n<bos>\n</s>\n");
    CHECK_THROWS_WITH_ALL(Vocab::load(dir / "bad.vocab"), FileError, "bad.vocab:3:", "<s>");
    write_file_atomically(dir / "dup.vocab", v.text() + "a\n");
    CHECK_THROWS_WITH_ALL(Vocab::load(dir / "dup.vocab"), FileError, "dup.vocab:8:", "twice");
    std::filesystem::remove_all(dir);
}

TEST_CASE("batches: padding, decoder input and target, similar lengths, seeded shuffling") {
    const std::vector<EncodedPair> data = {{{5, 6, 3}, {7}}, {{5, 3}, {8, 9, 7}}, {{6, 6, 6, 6, 3}, {7, 7}}};
    const Batch b = make_batch(data, std::vector<std::size_t>{0, 1});
    CHECK(b.src_len == 3);
    CHECK(b.tgt_len == 4);
    CHECK(b.source == std::vector<std::int32_t>{5, 6, 3, 5, 3, 0});
    CHECK(b.source_lengths == std::vector<int>{3, 2});
    CHECK(b.decoder_input == std::vector<std::int32_t>{2, 7, 0, 0, 2, 8, 9, 7});
    CHECK(b.decoder_target == std::vector<std::int32_t>{7, 3, 0, 0, 8, 9, 7, 3});
    CHECK(b.target_tokens == 6);

    std::vector<EncodedPair> many;
    for (int i = 0; i < 100; ++i) many.push_back({std::vector<std::int32_t>(static_cast<std::size_t>(1 + i % 20), 5), {7}});
    Generator g1(5), g2(5), g3(6);
    const auto p1 = plan_batches(many, 10, &g1), p2 = plan_batches(many, 10, &g2), p3 = plan_batches(many, 10, &g3);
    CHECK(p1 == p2);  // the same seed, the same batches
    CHECK(p1 != p3);
    std::size_t total = 0;
    for (const auto& batch : p1) {
        std::size_t lo = 100, hi = 0;
        for (std::size_t i : batch) lo = std::min(lo, many[i].source.size()), hi = std::max(hi, many[i].source.size());
        CHECK(hi - lo <= 2);  // similar lengths together
        total += batch.size();
    }
    CHECK(total == 100);

    // A token budget: short sentences fill whole batches, long ones make small batches, and a single
    // sentence over the budget still gets a batch of its own.
    std::vector<EncodedPair> mixed;
    for (int i = 0; i < 40; ++i) mixed.push_back({std::vector<std::int32_t>(4, 5), {7, 7}});    // 4 + 3 tokens
    for (int i = 0; i < 6; ++i) mixed.push_back({std::vector<std::int32_t>(100, 5), {7}});     // 100 + 2
    mixed.push_back({std::vector<std::int32_t>(500, 5), {7}});                                 // over the budget
    const auto budgeted = plan_batches(mixed, 32, nullptr, 256);
    std::size_t seen = 0;
    for (const auto& batch : budgeted) {
        CHECK((batch.size() == 1 || padded_tokens(mixed, batch) <= 256));
        seen += batch.size();
    }
    CHECK(seen == mixed.size());
    CHECK(budgeted[0].size() == 32);  // 32 x 7 = 224 tokens
    CHECK(budgeted.back().size() == 1);
    CHECK(padded_tokens(mixed, std::vector<std::size_t>{0, 40}) == 2 * (100 + 3));
}

TEST_CASE("13a tokenization and BLEU as sacreBLEU reports it, against an independent implementation") {
    // tests/fixtures/bleu_13a/make_reference.py: sacreBLEU's rules run by Python's re module.
    const std::string dir = std::string(TG_FIXTURES) + "/bleu_13a/";
    std::istringstream cases(tg::read_text(dir + "cases.tsv")), expected(tg::read_text(dir + "expected.txt"));
    std::vector<std::string> hyps, refs;
    std::string line, want;
    while (std::getline(cases, line)) {
        const std::size_t tab = line.find('\t');
        hyps.push_back(line.substr(0, tab));
        refs.push_back(line.substr(tab + 1));
        REQUIRE(std::getline(expected, want));
        CAPTURE(line);
        CHECK(join_words(tokenize_13a(hyps.back())) + "\t" + join_words(tokenize_13a(refs.back())) == want);
    }
    REQUIRE(hyps.size() == 12);
    auto figure = [&](const std::string& key) {
        REQUIRE(std::getline(expected, want));
        REQUIRE(want.rfind(key + " ", 0) == 0);
        return std::stod(want.substr(key.size() + 1));
    };
    CHECK(corpus_bleu_13a(hyps, refs) == doctest::Approx(figure("bleu")).epsilon(1e-9));
    CHECK(corpus_bleu_13a(std::span(hyps).first(6), std::span(refs).first(6)) == doctest::Approx(figure("bleu_first_half")).epsilon(1e-9));
    // Detokenized text: "dog." and "dog ." are the same tokens, so the same score.
    CHECK(tokenize_13a("the dog.") == Sentence{"the", "dog", "."});
    CHECK(corpus_bleu_13a(std::vector<std::string>{"the big dog ran home ."}, std::vector<std::string>{"the big dog ran home."}) == 100.0);
}

TEST_CASE("chrF2 as sacreBLEU computes it: by hand, and sacreBLEU's own figures") {
    auto chrf = [](const std::vector<std::pair<std::string, std::string>>& pairs) {
        tg::text::ChrfStats s;
        for (const auto& [hyp, ref] : pairs) s.add(hyp, ref);
        return s.chrf();
    };
    CHECK(chrf({{"ab", "ab"}}) == doctest::Approx(100.0));
    // "ab" against "ac": 1-grams P = R = 1/2, 2-grams 0/1 each, no 3- to 6-grams: P = R = 1/4, F = 1/4
    CHECK(chrf({{"ab", "ac"}}) == doctest::Approx(25.0));
    CHECK(chrf({{"a b\tc", "abc"}}) == doctest::Approx(100.0));  // white space does not count
    CHECK(chrf({{"\xc3\xa9" "a", "ea"}}) == doctest::Approx(25.0));  // "éa": two characters, not three bytes
    CHECK(chrf({{"", "abc"}}) == 0.0);
    CHECK(chrf({{"aa", "a"}}) == doctest::Approx(100.0 * 5 * 0.5 / (4 * 0.5 + 1)));  // clipped: P 1/2, R 1
    // The figures sacreBLEU's CHRF gives (as quoted in the chrF metric card of Hugging Face's datasets):
    CHECK(chrf({{"The relationship between Obama and Netanyahu is not exactly friendly.",
                 "The ties between Obama and Netanyahu are not particularly friendly."}}) ==
          doctest::Approx(61.576379378113785).epsilon(1e-12));
    CHECK(chrf({{"The relationship between cats and dogs is not exactly friendly.",
                 "The relationship between dogs and cats is not exactly friendly."},
                {"a good bookshop is just a genteel black hole that knows how to read.",
                 "A good bookshop is just a genteel Black Hole that knows how to read."}}) ==
          doctest::Approx(84.64214891738334).epsilon(1e-12));
}
