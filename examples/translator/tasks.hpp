// Synthetic language pairs with gold word alignments: small grammars whose translations need
// reordering (local or long-distance) and words that become two words or none, so that the
// alignment is not a diagonal. Everything is drawn from a seeded generator: same seed, same data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "text/corpus.hpp"

namespace translator {

struct Example {
    tg::text::SentencePair pair;
    tg::text::Alignment alignment;  // (source index, target index) links
};

struct TaskInfo {
    std::string name, description;
};
std::vector<TaskInfo> list_tasks();
bool task_exists(const std::string& name);

// Which part of the space of sentences an example belongs to: decided by a hash of the source
// sentence, so the test split never shares a sentence with training whatever the seeds.
enum class Split { all, train, valid, test };
Split split_of(const tg::text::Sentence& source);  // about 80% train, 10% valid, 10% test

// n examples of `task` whose source length is in [min_len, max_len] and which belong to `split`.
// Throws std::invalid_argument for an unknown task or when the constraints cannot be met.
std::vector<Example> generate(const std::string& task, std::size_t n, std::uint64_t seed, std::size_t min_len,
                              std::size_t max_len, Split split = Split::all);

}  // namespace translator
