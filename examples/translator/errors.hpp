// What the translator's library throws for a setting that cannot work (an option's value, a size that
// does not fit): a one-line message naming it. The command line prints it and exits with status 2.
#pragma once
#include <stdexcept>

namespace translator {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace translator
