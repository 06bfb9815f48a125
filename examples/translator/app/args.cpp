#include "args.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <toml++/toml.h>

#include "io/files.hpp"
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
    if (values_.count("--config")) read_config(values_.at("--config"));
    for (const OptionSpec& o : specs_)
        if (o.required && !values_.count(o.name)) throw UsageError(fmt::format("{}: required", o.name));
}

namespace {

std::string where(const std::string& path, const toml::source_region& at) {
    return fmt::format("{}:{}:{}", path, at.begin.line, at.begin.column);
}

// The text as a whole number, or a finite number; nullopt when it is not all of one.
std::optional<long long> whole_number(const std::string& v) {
    errno = 0;
    char* end = nullptr;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno == ERANGE) return std::nullopt;
    return x;
}
std::optional<double> finite_number(const std::string& v) {
    errno = 0;
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x)) return std::nullopt;
    return x;
}

// A value of the file as the text the command line would have given.
std::optional<std::string> as_text(const toml::node& v) {
    if (const auto* s = v.as_string()) return s->get();
    if (const auto* i = v.as_integer()) return std::to_string(i->get());
    if (const auto* f = v.as_floating_point()) return fmt::format("{}", f->get());
    return std::nullopt;
}

}  // namespace

void Args::read_config(const std::string& path) {
    toml::table file;
    try {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) throw UsageError(fmt::format("--config {}: {}", tg::printable(path), std::filesystem::exists(path, ec) ? "not a file" : "no such file"));
        file = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        throw UsageError(fmt::format("{}: {}", where(tg::printable(path), e.source()), tg::printable(std::string(e.description()))));
    }
    auto known = [&](const std::string& section, const std::string& key) -> const OptionSpec* {
        for (const OptionSpec& o : specs_)
            if (!o.section.empty() && o.section == section && o.name == "--" + key) return &o;
        return nullptr;
    };
    auto elsewhere = [&](const std::string& key) -> std::string {
        for (const OptionSpec& o : specs_)
            if (o.name == "--" + key) return o.section.empty() ? "on the command line only" : fmt::format("in [{}]", o.section);
        return "";
    };
    // Sections hold settings or further sections ([model] and [model.rnnsearch]).
    std::function<void(const toml::table&, const std::string&)> walk = [&](const toml::table& table, const std::string& section) {
        for (const auto& [k, node] : table) {
            const std::string key = tg::printable(std::string(k.str()));
            const std::string at = where(path, node.source());
            if (const auto* inner = node.as_table()) {
                walk(*inner, section.empty() ? key : section + "." + key);
                continue;
            }
            const OptionSpec* s = known(section, key);
            if (!s) {
                const std::string other = elsewhere(key), named_at = where(path, k.source());
                throw UsageError(other.empty() ? fmt::format("{}: unknown setting '{}'{}", named_at, key, section.empty() ? "" : " in [" + section + "]")
                                               : fmt::format("{}: '{}' belongs {}, not {}", named_at, key, other,
                                                             section.empty() ? "at the top" : "in [" + section + "]"));
            }
            if (values_.count(s->name) && !from_file_.count(s->name)) continue;  // the command line's wins
            if (s->value.empty()) {  // a switch: true or false
                const auto* b = node.as_boolean();
                if (!b) throw UsageError(fmt::format("{}: {}: expected true or false", at, key));
                if (b->get()) values_[s->name] = "1";
                continue;
            }
            const std::optional<std::string> text = as_text(node);
            if (!text) throw UsageError(fmt::format("{}: {}: expected {} (a number or a string)", at, key, s->value));
            values_[s->name] = *text;
            from_file_[s->name] = fmt::format("{}: {}", at, key);
        }
    };
    walk(file, "");
}

std::string Args::configuration(const std::string& base, const std::vector<std::string>& paths) const {
    toml::table out;
    if (!base.empty()) {
        try {
            out = toml::parse(base);
        } catch (const toml::parse_error&) {  // (a damaged file of an earlier run: what is given now stands alone)
        }
    }
    auto section_of = [&](const std::string& dotted) -> toml::table& {
        toml::table* t = &out;
        std::size_t start = 0;
        for (;;) {
            const std::size_t dot = dotted.find('.', start);
            const std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            if (!t->contains(part) || !(*t)[part].is_table()) t->insert_or_assign(part, toml::table{});
            t = (*t)[part].as_table();
            if (dot == std::string::npos) return *t;
            start = dot + 1;
        }
    };
    for (const OptionSpec& o : specs_) {
        if (o.section.empty() || !values_.count(o.name)) continue;
        const std::string key = o.name.substr(2);
        toml::table& t = section_of(o.section);
        const std::string& v = values_.at(o.name);
        if (o.value.empty()) {
            t.insert_or_assign(key, true);
            continue;
        }
        if (std::find(paths.begin(), paths.end(), o.name) != paths.end()) {
            t.insert_or_assign(key, std::filesystem::absolute(v).lexically_normal().string());
            continue;
        }
        if (const auto i = whole_number(v)) t.insert_or_assign(key, static_cast<std::int64_t>(*i));
        else if (const auto d = finite_number(v)) t.insert_or_assign(key, *d);
        else t.insert_or_assign(key, v);
    }
    std::ostringstream text;
    text << out << '\n';
    return text.str();
}

std::string Args::named(const std::string& name) const {
    const auto it = from_file_.find(name);
    return it == from_file_.end() ? name : it->second;
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
    const std::optional<long long> x = whole_number(v);
    if (!x || *x < min || *x > max)
        throw UsageError(fmt::format("{}: expected a whole number from {} to {}, got '{}'", named(name), min, max, v));
    return *x;
}

double Args::number(const std::string& name, double min, double max) const {
    const std::string v = text(name);
    const std::optional<double> x = finite_number(v);
    if (!x || *x < min || *x > max)
        throw UsageError(fmt::format("{}: expected a number from {} to {}, got '{}'", named(name), min, max, v));
    return *x;
}

int beam_width(const Args& args) { return static_cast<int>(args.integer("--beam", 1, 1000)); }

double length_penalty(const Args& args, std::size_t beam) {
    if (!args.given("--length-penalty")) return -1;
    if (beam == 1) throw UsageError("--length-penalty: ranks beam search's hypotheses; give --beam K > 1");
    return args.number("--length-penalty", 0, 10);
}

std::size_t max_words(const Args& args) { return static_cast<std::size_t>(args.integer("--max-words", 1, 1'000'000)); }
std::size_t max_pieces(const Args& args) { return static_cast<std::size_t>(args.integer("--max-pieces", 1, 1'000'000)); }

void apply_threads(const Args& args) { tg::set_num_threads(static_cast<int>(args.integer("--threads", 1, 256))); }

}  // namespace translator
