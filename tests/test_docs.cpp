// The docs cannot rot: every fenced block in docs/*.md and README.md that is marked
//   <!-- include: PATH -->  or  <!-- include: PATH#NAME -->         must equal the file, or the lines
//                                                                   between the two lines of the file
//                                                                   that hold <doc:NAME> and </doc:NAME>,
//   <!-- output: COMMAND -->                                        must equal what COMMAND prints,
//   <!-- run -->                                                    must run: each line exits with 0.
// Commands run in a fresh temporary folder; "build/" in them means this build's folder.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <cctype>
#include <regex>
#include <sstream>

#include "helpers.hpp"
#include "io/files.hpp"

namespace fs = std::filesystem;

namespace {

struct Block {
    std::string marker, body, where;
};

// The marked blocks of a markdown file: a marker line, then a fenced block (```lang ... ```).
std::vector<Block> marked_blocks(const fs::path& md) {
    std::vector<Block> out;
    std::istringstream in(tg::read_text(md));
    std::string line, pending;
    int n = 0, pending_line = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.rfind("<!-- ", 0) == 0 && line.size() > 8 && line.substr(line.size() - 4) == " -->") {
            pending = line.substr(5, line.size() - 9);
            pending_line = n;
            continue;
        }
        if (line.rfind("```", 0) == 0 && !pending.empty()) {
            Block b{pending, "", fmt::format("{}:{}", md.filename().string(), pending_line)};
            while (std::getline(in, line) && line.rfind("```", 0) != 0) b.body += line + '\n', ++n;
            ++n;
            out.push_back(std::move(b));
        }
        pending.clear();
    }
    return out;
}

// Runs a shell command in `dir` with build/ pointing at this build; returns (status, stdout).
std::pair<int, std::string> shell(const std::string& command, const fs::path& dir) {
    fs::create_directories(dir);
    const std::string cmd = "cd '" + dir.string() + "' && ln -sfn '" + TG_BUILD_ROOT + "' build && ln -sfn '" +
                            TG_SOURCE_ROOT + "/examples' examples && (" + command + ") 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    for (std::size_t k; (k = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
    const int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace

TEST_CASE("docs: every included file, printed output and command in the docs is true") {
    const fs::path root = TG_SOURCE_ROOT;
    std::vector<fs::path> docs = {root / "README.md"};
    for (const auto& e : fs::directory_iterator(root / "docs"))
        if (e.path().extension() == ".md") docs.push_back(e.path());
    const fs::path tmp = fs::temp_directory_path() / ("tapegrad-docs-" + std::to_string(::getpid()));
    std::size_t checked = 0;
    for (const fs::path& md : docs) {
        for (const Block& b : marked_blocks(md)) {
            CAPTURE(b.where);
            ++checked;
            if (b.marker.rfind("include: ", 0) == 0) {
                std::string spec = b.marker.substr(9), name;
                if (const std::size_t hash = spec.find('#'); hash != std::string::npos) {
                    name = spec.substr(hash + 1);
                    spec = spec.substr(0, hash);
                }
                // Named regions, not line numbers: an edit elsewhere in the file cannot break the quote.
                std::istringstream file(tg::read_text(root / spec));
                std::string lines, line;
                bool inside = name.empty(), found = name.empty();
                while (std::getline(file, line)) {
                    if (!name.empty() && line.find("</doc:" + name + ">") != std::string::npos) inside = false;
                    else if (!name.empty() && line.find("<doc:" + name + ">") != std::string::npos) inside = found = true;
                    else if (inside && line.find("<doc:") == std::string::npos && line.find("</doc:") == std::string::npos)
                        lines += line + '\n';  // (the markers of a region nested inside are not quoted)
                }
                CHECK_MESSAGE(found, b.where << " quotes the region " << name << " of " << spec << ", which has no <doc:" << name << "> line");
                CHECK_MESSAGE(b.body == lines, b.where << " quotes " << b.marker.substr(9) << ", which now reads:\n" << lines);
            } else if (b.marker.rfind("output: ", 0) == 0) {
                const auto [status, out] = shell(b.marker.substr(8), tmp / std::to_string(checked));
                CHECK(status == 0);
                CHECK_MESSAGE(b.body == out, b.where << ": the command now prints:\n" << out);
            } else if (b.marker == "run") {
                std::istringstream lines(b.body);
                std::string line;
                while (std::getline(lines, line)) {
                    if (line.empty() || line[0] == '#') continue;
                    CAPTURE(line);
                    CHECK(shell(line, tmp / std::to_string(checked)).first == 0);
                }
            }
        }
    }
    fs::remove_all(tmp);
    MESSAGE(checked << " marked blocks checked");
    CHECK(checked >= 10);
}

TEST_CASE("docs: every repository path the docs and README quote exists") {
    // A path in backquotes whose first folder is one of the repository's (`layers/maxout.hpp`,
    // `examples/consumer/`), or a relative markdown link outside code blocks ([the spec](spec/cli.md)),
    // must exist; `bench/ops` names the program built from bench/ops.cpp. Paths with placeholders
    // (`<name>`, `*`) are patterns, not paths. A path with a symbol (`autograd/tape.cpp:Tape::backward`)
    // must hold that symbol.
    const fs::path root = TG_SOURCE_ROOT;
    const std::vector<std::string> tops = {"autograd", "kernels", "layers", "optim", "io", "text", "viz", "examples",
                                           "tests", "bench", "docs", "tools", "fuzz", ".ci"};
    std::vector<fs::path> mds = {root / "README.md"};
    for (const auto& e : fs::recursive_directory_iterator(root / "docs"))
        if (e.path().extension() == ".md") mds.push_back(e.path());
    int checked = 0;
    for (const fs::path& md : mds) {
        std::istringstream in(tg::read_text(md));
        bool code = false;
        int n = 0;
        for (std::string line; std::getline(in, line);) {
            ++n;
            if (line.rfind("```", 0) == 0) code = !code;
            if (code) continue;
            for (std::size_t a = line.find('`'); a != std::string::npos; a = line.find('`', a)) {
                const std::size_t b = line.find('`', a + 1);
                if (b == std::string::npos) break;
                std::string t = line.substr(a + 1, b - a - 1);
                a = b + 1;
                const std::size_t sep = t.find_first_of("#:");
                const std::string symbol = sep != std::string::npos && t[sep] == ':' ? t.substr(sep + 1) : "";
                t = t.substr(0, sep);
                const std::string first = t.substr(0, t.find('/'));
                if (t.find('/') == std::string::npos || std::find(tops.begin(), tops.end(), first) == tops.end() ||
                    t.find_first_of(" *<>{}$") != std::string::npos)
                    continue;
                ++checked;
                CHECK_MESSAGE((fs::exists(root / t) || fs::exists(root / (t + ".cpp"))),
                              md.filename().string() << ":" << n << " quotes " << t << ", which does not exist");
                if (!symbol.empty() && fs::is_regular_file(root / t)) {
                    ++checked;
                    CHECK_MESSAGE(tg::read_text(root / t).find(symbol) != std::string::npos,
                                  md.filename().string() << ":" << n << " cites " << t << ":" << symbol << ", which " << t
                                                         << " does not hold");
                }
            }
            for (std::size_t a = line.find("]("); a != std::string::npos; a = line.find("](", a + 1)) {
                std::string t = line.substr(a + 2, line.find(')', a) - a - 2);
                t = t.substr(0, t.find('#'));
                if (t.empty() || t.rfind("http", 0) == 0 || t.find(' ') != std::string::npos) continue;
                ++checked;
                CHECK_MESSAGE(fs::exists(md.parent_path() / t), md.filename().string() << ":" << n << " links " << t
                                                                                     << ", which does not exist");
            }
        }
    }
    MESSAGE(checked << " quoted paths and links checked");
    CHECK(checked > 50);
}

TEST_CASE("docs: every shell script and Python program in the repository parses") {
    // The benchmark and tool scripts run nowhere in the suite (they need PyTorch, perf, minutes); a
    // quote inside a quoted block once broke bench/profile.sh unnoticed. `bash -n` and Python's
    // ast.parse read them without running anything.
    const fs::path root = TG_SOURCE_ROOT;
    int checked = 0;
    for (const char* folder : {"bench", "tools", "examples", "tests", "fuzz", ".ci"})
        for (const auto& e : fs::recursive_directory_iterator(root / folder)) {
            const fs::path& p = e.path();
            const bool shell = p.extension() == ".sh" || p == root / ".ci" / "run";
            if (!e.is_regular_file() || !(shell || p.extension() == ".py")) continue;
            const std::string check = shell ? "bash -n '" + p.string() + "'"
                                            : "python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' '" +
                                                  p.string() + "'";
            ++checked;
            CHECK_MESSAGE(std::system((check + " 2>/dev/null").c_str()) == 0,
                          fs::relative(p, root).string() << " does not parse (" << check << ")");
        }
    MESSAGE(checked << " scripts parsed");
    CHECK(checked > 20);
}

namespace {

// The text from the definition of the class, struct, enum or namespace `name` in `text` to its end
// (a class's "\n};" at the indentation of its head, a namespace's end of file); "" when there is none.
std::string scope_of(const std::string& text, const std::string& name) {
    for (const std::string kind : {"class ", "struct ", "enum class ", "namespace "}) {
        for (std::size_t at = text.find(kind + name); at != std::string::npos; at = text.find(kind + name, at + 1)) {
            const std::size_t after = at + kind.size() + name.size();
            if (after < text.size() && (std::isalnum(static_cast<unsigned char>(text[after])) || text[after] == '_')) continue;
            if (at > 0 && text[at - 1] != '\n' && text[at - 1] != ' ') continue;
            const std::size_t line = text.rfind('\n', at) + 1;
            const std::size_t body = text.find('{', after), semicolon = text.find(';', after);
            if (body == std::string::npos || (semicolon != std::string::npos && semicolon < body)) continue;  // a declaration
            if (kind == "namespace ") return text.substr(at);
            const std::string close = "\n" + std::string(at - line, ' ') + "};";
            const std::size_t end = text.find(close, body);
            return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
        }
    }
    return "";
}

bool holds_word(const std::string& text, const std::string& word) {
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
        const auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
        if ((at == 0 || !is_name(text[at - 1])) && (at + word.size() >= text.size() || !is_name(text[at + word.size()]))) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("docs: every Type::member the docs name exists, as a member of that type") {
    // `RNNSearch::loss` in prose named a function RNNSearch does not have (it is TranslationModel's).
    // A name in backquotes of the form A::B::c (with or without "()") must be written in the source as
    // it is, or c must be declared inside the definition of B inside A. Other libraries' names (std::,
    // torch::, at::) are theirs.
    const fs::path root = TG_SOURCE_ROOT;
    std::vector<std::string> sources;
    for (const char* top : {"autograd", "kernels", "layers", "optim", "io", "text", "viz", "examples", "bench"})
        for (const auto& e : fs::recursive_directory_iterator(root / top))
            if (e.path().extension() == ".hpp" || e.path().extension() == ".cpp") sources.push_back(tg::read_text(e.path()));
    std::vector<fs::path> mds = {root / "README.md"};
    for (const auto& e : fs::recursive_directory_iterator(root / "docs"))  // (history.md: the code as it was)
        if (e.path().extension() == ".md" && e.path().filename() != "history.md") mds.push_back(e.path());
    const std::regex qualified("`((?:[A-Za-z_][A-Za-z0-9_]*::)+[A-Za-z_~][A-Za-z0-9_]*)(?:\\(\\))?`");
    int checked = 0;
    for (const fs::path& md : mds) {
        const std::string text = tg::read_text(md);
        for (auto it = std::sregex_iterator(text.begin(), text.end(), qualified); it != std::sregex_iterator(); ++it) {
            const std::string name = (*it)[1];
            if (name.rfind("std::", 0) == 0 || name.rfind("torch::", 0) == 0 || name.rfind("at::", 0) == 0) continue;
            std::vector<std::string> parts;
            for (std::size_t a = 0, b; a <= name.size(); a = b + 2) {
                b = name.find("::", a);
                if (b == std::string::npos) b = name.size();
                parts.push_back(name.substr(a, b - a));
            }
            bool found = false;
            for (const std::string& s : sources) {
                if (s.find(name) != std::string::npos) {
                    found = true;
                    break;
                }
                std::string scope = s;
                for (std::size_t k = 0; k + 1 < parts.size() && !scope.empty(); ++k) scope = scope_of(scope, parts[k]);
                if (!scope.empty() && holds_word(scope, parts.back())) {
                    found = true;
                    break;
                }
            }
            ++checked;
            CHECK_MESSAGE(found, md.filename().string() << " names " << name << ", which the source does not define");
        }
    }
    CHECK(checked > 20);
    MESSAGE(checked << " qualified names checked");
}
