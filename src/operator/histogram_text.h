#pragma once
// Histograms read back from Prometheus text (our own /metrics): the
// benchmark takes a snapshot before and after a run and prints each stage's
// p50/p99 from the difference, as Prometheus's histogram_quantile would.
// Hand-written for the same reason as metrics.h: no library of ours reads
// the format, and only `_bucket` lines are needed.
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace arl::op {

struct HistogramCounts {
  /// (upper bound, cumulative count), by increasing bound; +Inf last.
  std::vector<std::pair<double, double>> buckets;
  double count() const { return buckets.empty() ? 0 : buckets.back().second; }
};

/// Every series of histogram `name`, keyed by its labels other than `le`
/// (e.g. `stage="claim"`; "" when it has none).
std::map<std::string, HistogramCounts> parse_histograms(const std::string& text, const std::string& name);

/// after - before, bucket by bucket (the observations made in between).
HistogramCounts counts_between(const HistogramCounts& before, const HistogramCounts& after);

/// The q-quantile (0..1), interpolated linearly inside its bucket; 0 when
/// empty. Values beyond the last finite bound read as that bound.
double quantile(const HistogramCounts& h, double q);

}  // namespace arl::op
