// common/program_folder.h: the folder of the running program, where its sibling programs are
// (`msaas` starts msaas-cli from there, `msaas up` starts msaas-api and msaas-worker).
#pragma once

#include <filesystem>
#include <string>

namespace msaas::common {

// Throws std::filesystem::filesystem_error where /proc/self/exe cannot be read.
inline std::string program_folder() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

}  // namespace msaas::common
