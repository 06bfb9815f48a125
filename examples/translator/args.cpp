#include "args.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "kernels/threads.hpp"

namespace translator {

Args::Args(std::string command, std::string synopsis, std::vector<OptionSpec> specs, const std::vector<std::string>& argv)
    : command_(std::move(command)), synopsis_(std::move(synopsis)), specs_(std::move(specs)) {
    for (std::size_t i = 0; i < argv.size(); ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") throw HelpRequested{usage()};
        std::optional<std::string> inline_value;  // --name=value, as GNU tools accept
        if (const std::size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = a.substr(eq + 1);
            a.resize(eq);
        }
        const OptionSpec* s = nullptr;
        for (const OptionSpec& o : specs_)
            if (o.name == a) s = &o;
        if (!s) {
            if (a.rfind("--", 0) == 0) throw UsageError(fmt::format("{}: unknown option", a));
            throw UsageError(fmt::format("'{}': unexpected argument (options start with --)", a));
        }
        if (values_.count(a)) throw UsageError(fmt::format("{}: given twice", a));
        if (s->value.empty()) {
            if (inline_value) throw UsageError(fmt::format("{}: a switch takes no value (got '{}')", a, *inline_value));
            values_[a] = "1";
            continue;
        }
        if (inline_value) {
            values_[a] = *inline_value;
            continue;
        }
        if (i + 1 >= argv.size()) throw UsageError(fmt::format("{}: missing its value {}", a, s->value));
        values_[a] = argv[++i];
    }
    for (const OptionSpec& o : specs_)
        if (o.required && !values_.count(o.name)) throw UsageError(fmt::format("{}: required", o.name));
}

std::string Args::usage() const {
    std::string s = fmt::format("usage: translator {} {}\n", command_, synopsis_);
    std::size_t width = 0;
    for (const OptionSpec& o : specs_) width = std::max(width, o.name.size() + o.value.size() + 1);
    for (const OptionSpec& o : specs_) {
        std::string left = o.value.empty() ? o.name : o.name + " " + o.value;
        s += fmt::format("  {:<{}}  {}", left, width, o.help);
        if (o.required) s += " (required)";
        else if (!o.fallback.empty()) s += fmt::format(" (default {})", o.fallback);
        s += '\n';
    }
    return s + fmt::format("  {:<{}}  this help\n", "--help", width);
}

const OptionSpec& Args::spec(const std::string& name) const {
    for (const OptionSpec& o : specs_)
        if (o.name == name) return o;
    throw std::logic_error("Args: no option " + name);
}

std::string Args::text(const std::string& name) const {
    auto it = values_.find(name);
    return it != values_.end() ? it->second : spec(name).fallback;
}

long long Args::integer(const std::string& name, long long min, long long max) const {
    const std::string v = text(name);
    errno = 0;
    char* end = nullptr;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno == ERANGE || x < min || x > max)
        throw UsageError(fmt::format("{}: expected a whole number from {} to {}, got '{}'", name, min, max, v));
    return x;
}

double Args::number(const std::string& name, double min, double max) const {
    const std::string v = text(name);
    errno = 0;
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x) || x < min || x > max)
        throw UsageError(fmt::format("{}: expected a number from {} to {}, got '{}'", name, min, max, v));
    return x;
}

int beam_width(const Args& args) { return static_cast<int>(args.integer("--beam", 1, 1000)); }

std::size_t max_words(const Args& args) { return static_cast<std::size_t>(args.integer("--max-words", 1, 1'000'000)); }
std::size_t max_pieces(const Args& args) { return static_cast<std::size_t>(args.integer("--max-pieces", 1, 1'000'000)); }

void apply_threads(const Args& args) { tg::set_num_threads(static_cast<int>(args.integer("--threads", 1, 256))); }

}  // namespace translator
