// Parallel text and word alignments, in the formats of docs/spec/model.md:
//   F.tsv    one pair a line, "source<TAB>target", tokens separated by spaces, UTF-8
//   F.align  one line per pair, Pharaoh format "i-j i-j ...", i source index, j target index (0-based)
// A malformed line is an error naming the file, the line and the column: never skipped silently.
#pragma once
#include <filesystem>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "vocab.hpp"

namespace tg::text {

struct SentencePair {
    Sentence source, target;
};

using Alignment = std::vector<std::pair<int, int>>;  // (source index, target index) links

// What every reader of text does to a line read from a file or stdin: drops a trailing '\r' (CRLF
// endings) and, on the first line, a UTF-8 byte order mark, so neither ever becomes part of a word.
void clean_line(std::string& line, bool first);

// The longest line any reader accepts, in bytes.
inline constexpr std::size_t kMaxLineBytes = 100000;

// The checks every reader makes of a line (after clean_line): at most kMaxLineBytes, valid UTF-8.
// Throws tg::FileError "NAME:LINE:COLUMN: ...".
void check_line(const std::string& line, const std::string& name, std::size_t number);

// Reads one line of a stream (without its '\n') into `line`, never holding more than kMaxLineBytes
// of it: a longer line throws tg::FileError "NAME:LINE: ..." as soon as its limit is passed, however
// long the rest of it. Returns false at the end of input. The line is then cleaned and checked.
bool read_line(std::istream& in, std::string& line, const std::string& name, std::size_t number);

// The one tokeniser of every reader (training files, stdin, vocabularies): words are separated by
// runs of ASCII white space (space, tab, CR, LF, VT, FF), so none is ever part of a word.
bool is_word_separator(char c);
Sentence split_words(const std::string& line);
std::string join_words(const Sentence& words);

// Throws tg::FileError "F.tsv:12:7: ..." for a line without a tab, with an empty side, with invalid
// UTF-8, longer than 100000 bytes, or with a word longer than Vocab::kMaxTokenBytes; and for an empty file. A line with more than two columns
// (Tatoeba and Anki exports add some) gives its first two; `extra_columns` counts such lines.
std::vector<SentencePair> read_parallel(const std::filesystem::path& path, std::size_t* extra_columns = nullptr);
// Parses the text of a .tsv (for tests and fuzzing); `name` is used in errors.
std::vector<SentencePair> parse_parallel(const std::string& text, const std::string& name,
                                         std::size_t* extra_columns = nullptr);

// One line of each (cleaned and checked, as read_line gives it), for readers that stream a file:
// `n` is its line number for errors; `extra_columns` is set when the line has more than two columns;
// with `pair`, every link must fall inside it.
SentencePair parse_pair(const std::string& line, const std::string& name, std::size_t n, bool* extra_columns = nullptr);
Alignment parse_alignment(const std::string& line, const std::string& name, std::size_t n, const SentencePair* pair = nullptr);

// Throws tg::FileError for a malformed link (file, line, column), or an index outside the
// sentence when `pairs` is given (then the file must have one line per pair).
std::vector<Alignment> read_alignments(const std::filesystem::path& path, const std::vector<SentencePair>* pairs = nullptr);
std::vector<Alignment> parse_alignments(const std::string& text, const std::string& name,
                                        const std::vector<SentencePair>* pairs = nullptr);

void write_parallel(const std::filesystem::path& path, const std::vector<SentencePair>& pairs);
void write_alignments(const std::filesystem::path& path, const std::vector<Alignment>& alignments);
std::string format_alignment(const Alignment& a);  // "0-0 1-2 ..."

}  // namespace tg::text
