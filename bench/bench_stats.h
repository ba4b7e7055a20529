#pragma once
// Percentiles of measured samples, shared by the benchmarks.
#include <algorithm>
#include <chrono>
#include <vector>

namespace arl::bench {

inline double ms(std::chrono::steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100 * (v.size() - 1) + 0.5))];
}

}  // namespace arl::bench
