#include "operator/histogram_text.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace arl::op {

std::map<std::string, HistogramCounts> parse_histograms(const std::string& text, const std::string& name) {
  std::map<std::string, HistogramCounts> out;
  const std::string prefix = name + "_bucket{";
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t close = line.rfind('}');
    if (close == std::string::npos) continue;
    std::string labels = line.substr(prefix.size(), close - prefix.size());
    const size_t le_at = labels.find("le=\"");
    if (le_at == std::string::npos) continue;
    const size_t le_end = labels.find('"', le_at + 4);
    const std::string le = labels.substr(le_at + 4, le_end - le_at - 4);
    // The rest of the labels, without le and the comma joining it.
    std::string rest = labels.substr(0, le_at) + labels.substr(le_end + 1);
    while (!rest.empty() && rest.back() == ',') rest.pop_back();
    if (!rest.empty() && rest.front() == ',') rest.erase(0, 1);
    const double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le);
    out[rest].buckets.emplace_back(bound, std::stod(line.substr(close + 1)));
  }
  for (auto& [_, h] : out) std::sort(h.buckets.begin(), h.buckets.end());
  return out;
}

HistogramCounts counts_between(const HistogramCounts& before, const HistogramCounts& after) {
  HistogramCounts d = after;
  for (auto& [bound, count] : d.buckets)
    for (const auto& [b, c] : before.buckets)
      if (b == bound) count -= c;
  return d;
}

double quantile(const HistogramCounts& h, double q) {
  const double total = h.count();
  if (total <= 0) return 0;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [bound, cumulative] : h.buckets) {
    if (cumulative >= rank && cumulative > below) {
      if (std::isinf(bound)) return lower;
      return lower + (bound - lower) * (rank - below) / (cumulative - below);
    }
    if (!std::isinf(bound)) lower = bound;
    below = cumulative;
  }
  return lower;
}

}  // namespace arl::op
