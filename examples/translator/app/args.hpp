// A small command-line parser for the translator's subcommands: "--name value" (or "--name=value")
// options and "--flag" switches, each with its help text. A wrong or missing argument throws UsageError with
// a one-line message naming it; the program prints it and exits with status 2.
//
// The same table is a command's configuration schema: an option with a section is also a setting of
// a TOML file (`--config FILE`, when the command has that option): `[section] name = value`, the name
// without its dashes. Options given on the command line override the file. A value from the file
// that is wrong is named by its file, line and column. configuration() writes the settings given
// back as such a file.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "errors.hpp"

namespace translator {


// Thrown by Args when the arguments hold --help: main prints the usage and exits with status 0.
struct HelpRequested {
    std::string usage;
};

struct OptionSpec {
    std::string name;       // "--batch"
    std::string value;      // "N" for an option with a value, "" for a switch
    std::string help;
    std::string fallback;   // default value ("" with required = true: must be given)
    bool required = false;
    std::string section = "";  // "model.rnnsearch": its place in a configuration file; "": command line only
};

class Args {
public:
    // argv holds the subcommand's arguments only. Throws HelpRequested for --help, UsageError for
    // an unknown option, a missing value or a missing required option.
    Args(std::string command, std::string synopsis, std::vector<OptionSpec> specs, const std::vector<std::string>& argv);

    std::string usage() const;
    // The settings given (command line and --config), as a configuration file --config reads, over
    // `base` (another such file's text: what a resumed training had); `paths` are made absolute.
    std::string configuration(const std::string& base = "", const std::vector<std::string>& paths = {}) const;

    bool given(const std::string& name) const { return values_.count(name) != 0; }
    bool flag(const std::string& name) const { return given(name); }
    std::string text(const std::string& name) const;  // the value, or the default
    long long integer(const std::string& name, long long min, long long max) const;
    double number(const std::string& name, double min, double max) const;

private:
    const OptionSpec& spec(const std::string& name) const;
    void read_config(const std::string& path);  // the settings of a TOML file not given on the command line
    std::string named(const std::string& name) const;  // "--hidden", or "run.toml:3:10: hidden" from a file
    std::string command_, synopsis_;
    std::vector<OptionSpec> specs_;
    std::map<std::string, std::string> values_;
    std::map<std::string, std::string> from_file_;  // option -> "FILE:LINE:COLUMN: key", for its messages
};

// Options several subcommands share.
const OptionSpec kThreadsOption{"--threads", "N", "threads for the matrix products (OpenBLAS's and tapegrad's own)", "1"};
const OptionSpec kBeamOption{"--beam", "K", "beam width (1: greedy)", "1"};
// Decoding time and memory grow with a sentence's length (2n + 10 steps, each attending over n
// words): a longer source is refused with an error naming its line, never a hang or gigabytes.
const OptionSpec kMaxWordsOption{"--max-words", "N", "refuse a source sentence of more than N words", "1000"};
// A subword model reads pieces: five words of 900 letters are thousands of them (and gigabytes).
const OptionSpec kMaxPiecesOption{"--max-pieces", "N", "refuse a source the model reads as more than N pieces (its positions; words for a word model)", "1024"};
// GNMT's length penalty: beam search ranks by log p / lp(y); without it, log p per word.
const OptionSpec kLengthPenaltyOption{"--length-penalty", "A", "beam search ranks by log p / ((5 + |y|) / 6)^A (GNMT); default: log p per word", ""};
int beam_width(const Args& args);     // --beam, validated
double length_penalty(const Args& args, std::size_t beam);  // --length-penalty (needs --beam > 1), or -1: per word
std::size_t max_words(const Args& args);  // --max-words, validated
std::size_t max_pieces(const Args& args);  // --max-pieces, validated
void apply_threads(const Args& args);  // --threads, validated and applied

}  // namespace translator
