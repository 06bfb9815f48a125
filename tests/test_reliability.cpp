// The translator never destroys a user's files, gives one answer per input whatever else the file
// holds, keeps memory bounded by its options, and says what it did: each case here failed before
// (issue 13's list), run as a user would run the program.
#include <sys/file.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_helpers.hpp"
#include "io/checkpoint.hpp"
#include "io/files.hpp"
#include "text/corpus.hpp"

namespace fs = std::filesystem;
using namespace tg::test;


TEST_CASE("--out never replaces a user's file or folder, the input, or the current folder") {
    Trained& t = trained();
    Workdir w;
    tg::write_file_atomically(w / "notes.txt", "my notes\n");
    fs::create_directories(w.path / "thesis" / "sub");
    tg::write_file_atomically(w / "thesis/thesis.txt", "chapter 1\n");
    const std::string before = listing(w.path);
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "notes.txt"), 2, "--out", "notes.txt", "not a folder");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "thesis"), 2, "--out", "thesis", "nor a tapegrad checkpoint");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + t.w / "train.tsv"), 2, "--out", "train.tsv", "input");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + t.w.path.string()), 2, "--out", "holds the input");
    CHECK_RUN(run("grads --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --out " + w / "notes.txt"), 2, "--out");
    CHECK_RUN(run("grads --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --out " + w / "thesis"), 2, "--out");
    CHECK_RUN(run(t.train + "--epochs 1 --out .", "", "", w.path.string()), 2, "--out .", "current folder");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "no/such/folder/model"), 2, "--out", "does not exist");
    CHECK(listing(w.path) == before);  // every file as it was
    CHECK(fs::exists(t.w.path / "train.tsv"));
    // An empty folder and an existing checkpoint may be written (the latter replaced atomically).
    fs::create_directories(w.path / "empty");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "empty"), 0, "best, saved");
    CHECK(tg::is_checkpoint_dir(w.path / "empty"));
    // A trained model is not replaced by a new training unless asked (--force), only continued (--resume).
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "empty"), 2, "holds a trained model", "--resume", "--force");
    CHECK_RUN(run(t.train + "--epochs 1 --force --out " + w / "empty"), 0, "best, saved");
}

TEST_CASE("a second writer of the same checkpoint fails at once, naming the holder") {
    Trained& t = trained();
    tg::CheckpointLock held(t.w.path / "busy");  // as a running `train --out busy` holds it
    CHECK_RUN(run(t.train + "--epochs 1 --out " + t.w / "busy"), 1, "busy", "in use by another process", "pid");
    CHECK(!fs::exists(t.w.path / "busy"));
}

TEST_CASE("a checkpoint identifies itself: swapped vocabulary words are refused, DIR.old is found") {
    Trained& t = trained();
    Workdir w;
    fs::copy(t.model, w.path / "m", fs::copy_options::recursive);
    const std::string marker = tg::read_text(w.path / "m" / tg::kCheckpointMarker);
    CHECK(marker.rfind("tapegrad checkpoint\nformat 1\nkind model\nfingerprint ", 0) == 0);
    CHECK(marker.find("file tgt.vocab text ") != std::string::npos);
    CHECK(marker.find("file decoder.weight_hh.npy npy [48, 16]") != std::string::npos);
    const std::string data = " --data " + t.w / "valid.tsv";
    const Result good = run("eval --checkpoint " + w / "m" + data);
    CHECK(good.status == 0);

    // Two words of tgt.vocab swapped: same size, every shape fits, but the weights no longer match.
    std::string vocab = tg::read_text(w.path / "m" / "tgt.vocab");
    const std::size_t a = vocab.find('\n', vocab.find("</s>")) + 1, b = vocab.find('\n', a) + 1, c = vocab.find('\n', b) + 1;
    const std::string swapped = vocab.substr(0, a) + vocab.substr(b, c - b) + vocab.substr(a, b - a) + vocab.substr(c);
    REQUIRE(swapped != vocab);
    tg::write_file_atomically(w.path / "m" / "tgt.vocab", swapped);
    CHECK_RUN(run("eval --checkpoint " + w / "m" + data), 1, "tgt.vocab", "differs from what was saved");
    tg::write_file_atomically(w.path / "m" / "tgt.vocab", vocab);

    // Only DIR.old left (an interrupted save on a file system without atomic exchange): found.
    fs::rename(w.path / "m", w.path / "m.old");
    const Result old = run("eval --checkpoint " + w / "m" + data);
    CHECK(old.status == 0);
    CHECK(old.output == good.output);
}

TEST_CASE("one answer per input: eval gives each sentence the translation translate gives it, whatever else is in the file") {
    Trained& t = trained();
    Workdir w;
    // A model after one step (then Ctrl-C, which saves) writes until its length limit, which must be
    // each sentence's own (2 n + 10), not the longest's in the batch.
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "raw", "", "TAPEGRAD_SIGINT_AT_STEP=1"), 130);
    const std::string short_ones = tg::read_text(t.w / "valid.tsv");
    std::string long_line;
    for (int i = 0; i < 25; ++i) long_line += "a b c d ";
    tg::write_file_atomically(w / "alone.tsv", short_ones);
    tg::write_file_atomically(w / "with_long.tsv", short_ones + long_line + "\tx y\n");
    CHECK_RUN(run("eval --checkpoint " + w / "raw" + " --data " + w / "alone.tsv" + " --out-hyp " + w / "alone.hyp"), 0);
    CHECK_RUN(run("eval --checkpoint " + w / "raw" + " --data " + w / "with_long.tsv" + " --out-hyp " + w / "long.hyp"), 0);
    const std::string alone = tg::read_text(w / "alone.hyp"), with_long = tg::read_text(w / "long.hyp");
    CHECK(with_long.rfind(alone, 0) == 0);  // the same first lines
    // ... and what translate writes for each source, one at a time.
    std::string sources;
    std::istringstream in(short_ones);
    for (std::string line; std::getline(in, line);) sources += line.substr(0, line.find('\t')) + "\n";
    tg::write_file_atomically(w / "sources.txt", sources);
    const Result translated = run("translate --checkpoint " + w / "raw" + " < " + w / "sources.txt");
    CHECK(translated.status == 0);
    CHECK(translated.output == alone);
    // Beam search too: eval decodes sentences in batches (K rows each), translate one at a time.
    CHECK_RUN(run("eval --checkpoint " + w / "raw" + " --data " + w / "with_long.tsv" + " --beam 3 --out-hyp " + w / "beam.hyp"), 0);
    const Result beam = run("translate --beam 3 --checkpoint " + w / "raw" + " < " + w / "sources.txt");
    CHECK(beam.status == 0);
    CHECK(tg::read_text(w / "beam.hyp").rfind(beam.output, 0) == 0);
}

TEST_CASE("CRLF line endings and a UTF-8 byte order mark are read the same everywhere") {
    Trained& t = trained();
    Workdir w;
    const std::string plain = "a b c\nc b a\n";
    tg::write_file_atomically(w / "plain.txt", plain);
    tg::write_file_atomically(w / "windows.txt", "\xEF\xBB\xBF" "a b c\r\nc b a\r\n");
    const Result a = run("translate --checkpoint " + t.model + " < " + w / "plain.txt");
    const Result b = run("translate --checkpoint " + t.model + " < " + w / "windows.txt");
    CHECK(a.status == 0);
    CHECK(b.output == a.output);
    // The same in a training file: no word starts with a BOM or ends with '\r'.
    std::string tsv = "\xEF\xBB\xBF" + tg::read_text(t.w / "train.tsv");
    for (std::size_t p = tsv.find('\n'); p != std::string::npos; p = tsv.find('\n', p + 2)) tsv.insert(p, "\r");
    tg::write_file_atomically(w / "crlf.tsv", tsv);
    CHECK_RUN(run("train --train " + w / "crlf.tsv" + " --valid " + t.w / "valid.tsv" + " --emb 8 --hidden 16 --attn 8 --batch 16 "
                  "--seed 3 --epochs 1 --out " + w / "m"), 0);
    CHECK(tg::read_text(w / "m/src.vocab") == tg::read_text(t.model + "/src.vocab"));
    CHECK(tg::read_text(w / "m/tgt.vocab") == tg::read_text(t.model + "/tgt.vocab"));
}

TEST_CASE("--resume: a size option that differs is an error, a schedule option is applied and said") {
    Trained& t = trained();
    Workdir w;
    fs::copy(t.model, w.path / "m", fs::copy_options::recursive);
    const std::string resume = "train " + t.data + "--epochs 2 --resume " + w / "m" + " --out " + w / "m";
    CHECK_RUN(run(resume + " --hidden 32"), 2, "--hidden 32", "has --hidden 16");
    CHECK_RUN(run(resume + " --batch 8"), 2, "--batch 8", "has --batch 16");
    CHECK_RUN(run(resume + " --no-attention"), 2, "--no-attention");
    CHECK_RUN(run(resume + " --lr 5e-4"), 0, "resuming with --lr 0.0005 (it was 0.001)");
}

TEST_CASE("SIGTERM saves like Ctrl-C and exits 143, saying so") {
    Trained& t = trained();
    Workdir w;
    const Result r = run(t.train + "--epochs 5 --out " + w / "m", "", "TAPEGRAD_SIGTERM_AT_STEP=3");
    CHECK_RUN(r, 143, "stopped by SIGTERM", "saved");
    CHECK(tg::read_text(w / "m/train_state.txt").find("step 3\n") != std::string::npos);
}

TEST_CASE("a SIGTERM delivered twice at once, as GNU timeout sends it, is one request: training saves") {
    Trained& t = trained();
    Workdir w;
    const Result r = run(t.train + "--epochs 5 --out " + w / "m", "", "TAPEGRAD_SIGTERM_TWICE_AT_STEP=3");
    CHECK_RUN(r, 143, "stopped by SIGTERM", "saved");
    CHECK(r.output.find("second signal") == std::string::npos);
    CHECK(tg::read_text(w / "m/train_state.txt").find("step 3\n") != std::string::npos);
}

TEST_CASE("a save that fails is reported as failed, never as saved") {
    Trained& t = trained();
    Workdir w;
    const Result r = run(t.train + "--epochs 1 --out " + w / "m", "", "TAPEGRAD_FAIL_SAVE_AT=1");
    CHECK_RUN(r, 1, "best, NOT saved", "could not be saved", "a fault injected by a test");
    CHECK(r.output.find("best, saved") == std::string::npos);
    CHECK(!fs::exists(w.path / "m"));
}

TEST_CASE("--opt=value, --version, and bounded work: long sentences and impossible models are refused up front") {
    Trained& t = trained();
    Workdir w;
    CHECK_RUN(run("--version"), 0, "translator (tapegrad) ");
    CHECK_RUN(run("eval --checkpoint=" + t.model + " --data=" + t.w / "valid.tsv" + " --beam=2"), 0, "all");
    CHECK_RUN(run("eval --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --json=yes"), 2, "--json", "takes no value");
    std::string huge;
    for (int i = 0; i < 20000; ++i) huge += "a ";  // 20,000 words in 40,000 bytes
    tg::write_file_atomically(w / "huge.txt", "a b\n" + huge + "\n");
    CHECK_RUN(run("translate --checkpoint " + t.model + " < " + w / "huge.txt"), 1, "stdin:2", "20000 words", "--max-words");
    tg::write_file_atomically(w / "huge.tsv", "a b\tc\n" + huge.substr(0, 2 * 1001) + "\tc\n");
    CHECK_RUN(run("eval --checkpoint " + t.model + " --data " + w / "huge.tsv"), 1, "huge.tsv:2", "--max-words");
    CHECK_RUN(run("train " + t.data + "--epochs 1 --hidden 100000 --out " + w / "big"), 2, "--hidden 100000", "GB");
    CHECK(!fs::exists(w.path / "big"));
}

TEST_CASE("attention: CSV quotes tokens holding quotes and commas; a folder given as --svg is refused, nothing left behind") {
    Trained& t = trained();
    Workdir w;
    CHECK_RUN(run("attention --checkpoint " + t.model + " --source 'say \"hi\", a' --svg " + w / "a.svg" + " --csv " + w / "a.csv"), 0);
    CHECK(tg::read_text(w / "a.csv").rfind("target,\"say (<unk>)\",\"\"\"hi\"\", (<unk>)\",\"a\",\"</s>\"\n", 0) == 0);
    fs::create_directories(w.path / "dir");
    CHECK_RUN(run("attention --checkpoint " + t.model + " --source 'a b' --svg " + w / "dir"), 2, "--svg", "is a folder");
    std::size_t entries = 0;
    for (const auto& e : fs::directory_iterator(w.path)) entries += e.path().filename() != "dir" && e.path().extension() != ".svg" && e.path().extension() != ".csv";
    CHECK(entries == 0);  // no DIR.tmp or other leftover
}

TEST_CASE("eval --out-hyp and --out-align write the translations and the scored alignments, a line per pair") {
    Trained& t = trained();
    Workdir w;
    CHECK_RUN(run("eval --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --align " + t.w / "valid.align" +
                  " --out-hyp " + w / "h.txt" + " --out-align " + w / "h.align"), 0, "AER");
    const auto pairs = tg::text::read_parallel(t.w / "valid.tsv");
    const auto links = tg::text::read_alignments(w / "h.align", &pairs);  // Pharaoh i-j, every index in range
    CHECK(links.size() == pairs.size());
    for (std::size_t i = 0; i < pairs.size(); ++i) CHECK(links[i].size() == pairs[i].target.size());  // one link per target word
    std::size_t lines = 0;
    for (char c : tg::read_text(w / "h.txt")) lines += c == '\n';
    CHECK(lines == pairs.size());
    CHECK_RUN(run("eval --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --out-hyp " + t.w / "valid.tsv"), 2,
              "--out-hyp", "input");
}
