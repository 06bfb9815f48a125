// Checkpoints: a directory holding one "<parameter name>.npy" per parameter (float32, C order,
// readable by numpy.load), the optimizer's state under optimizer/, and whatever text files the
// program adds (vocabularies, a config).
//
// Saving never destroys the last good checkpoint: everything is written and flushed into a staging
// directory beside the target, which is then swapped in with one atomic rename. Loading is strict:
// every parameter must have its file with its exact shape, no unexpected .npy file may be there,
// and nothing in the model changes unless everything loaded.
#pragma once
#include <filesystem>
#include <string>

#include "io/npy.hpp"
#include "layers/module.hpp"
#include "optim/optimizer.hpp"

namespace tg {

class CheckpointWriter {
public:
    explicit CheckpointWriter(std::filesystem::path dir);  // starts a fresh staging directory
    ~CheckpointWriter();                                   // an uncommitted save is discarded
    CheckpointWriter(const CheckpointWriter&) = delete;
    CheckpointWriter& operator=(const CheckpointWriter&) = delete;

    void add_tensor(const std::string& name, const Tensor& t);  // writes <name>.npy ('/' makes subfolders)
    void add_text(const std::string& filename, const std::string& content);
    // Publishes the checkpoint: after commit() returns, `dir` holds exactly what was added.
    void commit();

private:
    std::filesystem::path dir_, staging_;
    bool committed_ = false;
};

void save_module(CheckpointWriter& w, const Module& m);
void save_optimizer(CheckpointWriter& w, Optimizer& opt);  // optimizer/optimizer.txt + optimizer/<state>.npy

// Throws FileError naming the missing file, the wrong shape, or the invalid .npy.
void load_module(const std::filesystem::path& dir, Module& m);
void load_optimizer(const std::filesystem::path& dir, Optimizer& opt);

// A whole checkpoint in one call: the module and (if given) the optimizer.
void save_checkpoint(const std::filesystem::path& dir, const Module& m, Optimizer* opt = nullptr);
void load_checkpoint(const std::filesystem::path& dir, Module& m, Optimizer* opt = nullptr);

}  // namespace tg
