// demucs/states.h: reading official checkpoints (demucs/states.py): the torch.save zip with its
// pickled {'klass', 'args', 'kwargs', 'state', 'training_args'}, and the file-name checksum.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <optional>
#include <string>

#include "demucs/pickle.h"

namespace msaas::demucs {

struct Package {
  std::string klass;                        // e.g. "demucs.htdemucs.HTDemucs"
  std::vector<pickle::ValuePtr> args;       // positional constructor arguments
  pickle::ValuePtr kwargs;                  // keyword constructor arguments
  std::map<std::string, at::Tensor> state;  // parameters and buffers, as float32
};

// Loads a checkpoint. Throws ModelError (engine.h) with one readable line on any problem.
Package load_package(const std::string& path);

// The checksum a checkpoint's name carries: <sha8> of `<sig>-<sha8>.th`; none for other names.
std::optional<std::string> named_checksum(const std::string& file_name);

// For a file named `<sig>-<sha8>.th`, checks that its SHA-256 starts with <sha8>, as
// repo.check_checksum does. Files named otherwise are not checked.
void check_checksum(const std::string& path);

// Hex SHA-256 of a whole file.
std::string sha256_file(const std::string& path);

}  // namespace msaas::demucs
