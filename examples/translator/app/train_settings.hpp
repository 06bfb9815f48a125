// translator train's settings, declared once (OptionSpec: name, value, help, default, section): the
// command line and `--help`, the configuration file (`--config run.toml`, its [sections] the ones
// below), the run.toml saved in every checkpoint, and docs/spec/cli.md (checked against this table
// by tests/test_config.cpp) all come from train_settings().
#pragma once
#include <vector>

#include "args.hpp"
#include "training.hpp"

namespace translator {

std::vector<OptionSpec> train_settings();

// The options as train() takes them: a setting not given stays unset (train() then uses its default,
// or the checkpoint's when resuming); checks what can be checked without the data.
TrainOptions train_options(const Args& args);

}  // namespace translator
