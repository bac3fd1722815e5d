// cli/sdr.cpp: see sdr.h. Same epsilon as demucs.evaluate.new_sdr.
#include "cli/sdr.h"

#include <algorithm>
#include <cmath>

namespace msaas::cli {

double sdr_db(const float* reference, const float* estimate, size_t n) {
  const double delta = 1e-7;  // avoids log(0) on silent stems, as new_sdr does
  double num = delta, den = delta;
  for (size_t i = 0; i < n; ++i) {
    double r = reference[i], e = double(reference[i]) - estimate[i];
    num += r * r;
    den += e * e;
  }
  return 10 * std::log10(num / den);
}

double median(std::vector<double> values) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

}  // namespace msaas::cli
