// Reading and writing float32 tensors as NumPy .npy files (format versions 1.0, 2.0 and 3.0).
//
// Written by hand rather than with xtensor's xnpy.hpp: its reader trusts the header (a truncated
// or hostile file reads garbage, allocates gigabytes or crashes), and every
// checkpoint passes through here. This reader checks the header and the shape against the file's
// size before allocating anything, and names the file and the problem in every error.
#pragma once
#include <filesystem>
#include <string>

#include "../autograd/tensor.hpp"
#include "files.hpp"

namespace tg {

// Writes `t` as a C-order little-endian float32 .npy (readable with numpy.load). The file is
// written to a temporary name, flushed to disk and renamed over `path`, so an interrupted save
// leaves either the old file or the new one, never half of one.
void save_npy(const std::filesystem::path& path, const Tensor& t);

// Reads a float32 .npy; throws FileError naming the file and what is wrong with it.
Tensor load_npy(const std::filesystem::path& path);

// The shape of a float32 .npy, read from its header alone, with the same checks (the data's size
// against the file's): what a checkpoint's verification needs, without reading the data.
Shape npy_shape(const std::filesystem::path& path);

// The same checks on bytes in memory (for files already read, and for fuzzing); `name` is used in
// error messages.
Tensor parse_npy(const std::string& bytes, const std::string& name);

}  // namespace tg
