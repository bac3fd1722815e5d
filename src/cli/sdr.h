// cli/sdr.h: the signal-to-distortion ratio Demucs and the MDX challenges report ("new SDR"):
// 10 log10(|reference|^2 / |reference - estimate|^2) over a whole track, all channels.
#pragma once

#include <cstddef>
#include <vector>

namespace msaas::cli {

double sdr_db(const float* reference, const float* estimate, size_t n);
double median(std::vector<double> values);

}  // namespace msaas::cli
