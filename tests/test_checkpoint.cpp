// Checkpoints: bit-exact round trips, exact resumption, strict loading with clear errors, and
// saves that never destroy the last good checkpoint.
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "helpers.hpp"
#include "tapegrad.hpp"

using namespace tg;
using tg::test::rand;
namespace fs = std::filesystem;

namespace {

struct TinyModel : Module {
    Generator gen;
    Embedding embed;
    GRUCell cell;
    Linear out;
    explicit TinyModel(std::uint64_t seed) : gen(seed), embed(7, 3, gen, 0), cell(3, 4, gen), out(4, 7, gen) {
        register_module("embed", embed);
        register_module("cell", cell);
        register_module("out", out);
    }
    Var loss(const std::vector<std::int32_t>& ids, const std::vector<std::int32_t>& targets) const {
        Var x = embed.forward(ids, {ids.size()});
        Var h = cell.forward(x, constant(Tensor::zeros({ids.size(), 4})));
        return cross_entropy(out.forward(h), targets);
    }
};

void train_steps(TinyModel& m, Optimizer& opt, int n) {
    Tape tape;
    TapeScope scope(tape);
    for (int i = 0; i < n; ++i) {
        tape.clear();
        opt.zero_grad();
        m.loss({1, 2, 3, 4, 5}, {2, 3, 4, 5, 6}).backward();
        clip_grad_norm(opt.params(), 1.0f);
        opt.step();
    }
}

bool bit_equal(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && (a.numel() == 0 || std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0);
}

// A fresh directory under the system's temp folder, removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() : path(fs::temp_directory_path() / ("tapegrad-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }
std::string read_bytes(const fs::path& p) { return read_text(p); }

}  // namespace

TEST_CASE("npy files: what numpy writes we read, and we write exactly what numpy writes") {
    TempDir tmp;
    const fs::path numpy_file = fs::path(TG_FIXTURES) / "linear" / "weight.npy";  // written by numpy.save
    const Tensor t = load_npy(numpy_file);
    CHECK(t.shape() == Shape{5, 4});
    save_npy(tmp.path / "w.npy", t);
    CHECK(read_bytes(tmp.path / "w.npy") == read_bytes(numpy_file));
    for (const Shape& s : {Shape{}, Shape{3}, Shape{2, 0}, Shape{2, 3, 4}}) {
        CAPTURE(s.str());
        const Tensor x = rand(s, 1);
        save_npy(tmp.path / "x.npy", x);
        CHECK(bit_equal(load_npy(tmp.path / "x.npy"), x));
    }
}

TEST_CASE("npy_shape reads the header alone, with load_npy's checks; read_text reads files without a length") {
    TempDir tmp;
    save_npy(tmp.path / "w.npy", rand({7, 4}, 2));
    CHECK(npy_shape(tmp.path / "w.npy") == Shape{7, 4});
    CHECK(npy_shape(fs::path(TG_FIXTURES) / "linear" / "weight.npy") == Shape{5, 4});  // numpy's own
    const std::string good = read_bytes(tmp.path / "w.npy");
    // Each broken file: npy_shape refuses it as load_npy does, with the same message.
    for (const std::string& bad : {good.substr(0, good.size() - 5), good.substr(0, 40), good + "xx",
                                   std::string("this is not a numpy file at all"), std::string()}) {
        write_bytes(tmp.path / "bad.npy", bad);
        std::string from_load, from_shape;
        try { load_npy(tmp.path / "bad.npy"); } catch (const FileError& e) { from_load = e.what(); }
        try { npy_shape(tmp.path / "bad.npy"); } catch (const FileError& e) { from_shape = e.what(); }
        CAPTURE(from_load);
        CHECK(!from_load.empty());
        CHECK(from_shape == from_load);
    }
    // /proc files report a length of 0 and still have content: read as a stream, like a pipe.
    CHECK(read_text("/proc/self/status").starts_with("Name:"));
    write_bytes(tmp.path / "empty.txt", "");
    CHECK(read_text(tmp.path / "empty.txt").empty());
    CHECK(read_text(tmp.path / "w.npy") == good);
}

TEST_CASE("save, load and resume: parameters and optimizer state round-trip bit for bit") {
    TempDir tmp;
    const fs::path dir = tmp.path / "ckpt";
    TinyModel a(1);
    Adam opt_a(a.named_parameters(), {.lr = 1e-2});
    train_steps(a, opt_a, 3);
    save_checkpoint(dir, a, &opt_a);
    CHECK(fs::exists(dir / "cell.weight_ih.npy"));
    CHECK(fs::exists(dir / "optimizer" / "exp_avg.cell.weight_ih.npy"));

    TinyModel b(99);  // different initial weights
    Adam opt_b(b.named_parameters(), {.lr = 5.0});
    load_checkpoint(dir, b, &opt_b);
    CHECK(opt_b.steps() == 3);
    CHECK(opt_b.lr() == 1e-2);
    for (std::size_t i = 0; i < a.parameters().size(); ++i) CHECK(bit_equal(a.parameters()[i]->value(), b.parameters()[i]->value()));
    auto sa = opt_a.state(), sb = opt_b.state();
    for (std::size_t i = 0; i < sa.size(); ++i) CHECK(bit_equal(*sa[i].second, *sb[i].second));

    // Resuming continues exactly where the uninterrupted run goes.
    train_steps(a, opt_a, 4);
    train_steps(b, opt_b, 4);
    for (std::size_t i = 0; i < a.parameters().size(); ++i) CHECK(bit_equal(a.parameters()[i]->value(), b.parameters()[i]->value()));
}

TEST_CASE("load_checkpoint is all or nothing: an optimizer state that does not fit leaves the model as it was") {
    TempDir tmp;
    const fs::path dir = tmp.path / "ckpt";
    TinyModel a(1);
    Adam opt_a(a.named_parameters(), {.lr = 1e-2});
    train_steps(a, opt_a, 2);
    save_checkpoint(dir, a, &opt_a);

    TinyModel b(99);
    std::vector<Tensor> before;
    for (Parameter* p : b.parameters()) before.push_back(p->value());
    SGD sgd(b.named_parameters(), {.lr = 0.5});  // the checkpoint holds Adam's state
    CHECK_THROWS_WITH_AS(load_checkpoint(dir, b, &sgd), doctest::Contains("resuming with 'sgd'"), FileError);
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(bit_equal(b.parameters()[i]->value(), before[i]));
    CHECK(sgd.lr() == 0.5);
    CHECK(sgd.steps() == 0);
}

TEST_CASE("loading names the missing file, the wrong shape, the unexpected file, the bad .npy") {
    TempDir tmp;
    const fs::path dir = tmp.path / "ckpt";
    TinyModel model(1);
    save_checkpoint(dir, model);
    TinyModel other(2);
    const Tensor before = other.out.weight.value();

    SUBCASE("missing") {
        fs::remove(dir / "cell.bias_hh.npy");
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "cell.bias_hh.npy", "missing", "[12]");
    }
    SUBCASE("wrong shape") {
        save_npy(dir / "out.weight.npy", Tensor::zeros({7, 5}));
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "out.weight.npy", "[7, 5]", "[7, 4]");
    }
    SUBCASE("unexpected file") {
        save_npy(dir / "attention.v.npy", Tensor::zeros({3}));
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "attention.v.npy", "unexpected", "attention.v");
    }
    SUBCASE("truncated payload") {
        std::string bytes = read_bytes(dir / "out.weight.npy");
        write_bytes(dir / "out.weight.npy", bytes.substr(0, bytes.size() - 5));
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "out.weight.npy", "truncated");
    }
    SUBCASE("cut inside the header") {
        write_bytes(dir / "out.weight.npy", read_bytes(dir / "out.weight.npy").substr(0, 40));
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "out.weight.npy", "header");
    }
    SUBCASE("not float32") {
        std::string bytes = read_bytes(dir / "out.weight.npy");
        bytes.replace(bytes.find("<f4"), 3, "<f8");
        write_bytes(dir / "out.weight.npy", bytes);
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "out.weight.npy", "'<f8'", "float32");
    }
    SUBCASE("a header claiming a huge shape never allocates it") {
        std::string bytes = read_bytes(dir / "out.weight.npy");
        bytes.replace(bytes.find("(7, 4)"), 6, "(99999999999, 99999999999)");
        write_bytes(dir / "out.weight.npy", bytes);
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "out.weight.npy", "larger than the file");
        bytes = read_bytes(dir / "out.weight.npy");
        bytes.replace(bytes.find("(99999999999, 99999999999)"), 26, "(4000000000,)");  // fits size_t, not the file
        write_bytes(dir / "out.weight.npy", bytes);
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "out.weight.npy", "needs 16000000000 bytes");
    }
    SUBCASE("garbage") {
        write_bytes(dir / "out.weight.npy", "this is not a numpy file at all");
        CHECK_THROWS_WITH_ALL(load_module(dir, other), FileError, "out.weight.npy", "magic");
    }
    SUBCASE("no checkpoint at all") {
        CHECK_THROWS_WITH_ALL(load_module(tmp.path / "nowhere", other), FileError, "nowhere", "not found");
    }
    // All or nothing: a failed load left the model as it was.
    CHECK(bit_equal(other.out.weight.value(), before));
}

TEST_CASE("an interrupted save leaves the last good checkpoint loadable") {
    TempDir tmp;
    const fs::path dir = tmp.path / "ckpt";
    TinyModel good(1);
    save_checkpoint(dir, good);
    {
        TinyModel newer(2);
        CheckpointWriter w(dir);  // the process "dies" before commit(): the writer is dropped
        save_module(w, newer);
    }
    TinyModel loaded(3);
    load_module(dir, loaded);
    CHECK(bit_equal(loaded.out.weight.value(), good.out.weight.value()));

    // A staging folder left by a killed process is ignored by loading and replaced by the next save.
    fs::create_directories(dir.string() + ".saving-1");
    write_bytes(fs::path(dir.string() + ".saving-1") / "junk.npy", "junk");
    load_module(dir, loaded);
    TinyModel newest(4);
    save_checkpoint(dir, newest);
    load_module(dir, loaded);
    CHECK(bit_equal(loaded.out.weight.value(), newest.out.weight.value()));
    // Only the checkpoint itself (and the stale folder of the "other" process) remain.
    std::size_t entries = 0;
    for (const auto& e : fs::directory_iterator(tmp.path)) entries += e.path().filename().string().rfind("ckpt", 0) == 0;
    CHECK(entries == 2);
}
