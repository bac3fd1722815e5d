// fuzz/pickle_fuzz.cpp: the checkpoint pickle reader on arbitrary bytes. It must refuse bad
// input with PickleError and never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>

#include "demucs/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    msaas::demucs::pickle::load(data, size);
  } catch (const msaas::demucs::pickle::PickleError&) {
  }
  return 0;
}
