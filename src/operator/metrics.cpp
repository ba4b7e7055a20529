#include "operator/metrics.h"

#include <fmt/format.h>

namespace arl::op {
namespace {
// Fine below 30 ms: the allocation's stages take 0.1-10 ms each, and
// scripts/bench.sh operator reads their p50/p99 back from these buckets.
constexpr double kBuckets[] = {0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005,
                               0.006,  0.007,   0.008,  0.009,   0.01,  0.0125, 0.015, 0.0175, 0.02,  0.025, 0.03,
                               0.04,   0.05,    0.075,  0.1,     0.25,  0.5,    1,     2.5,    5,     10,    30, 60};

std::string with_label(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return "{" + extra + "}";
  return "{" + labels + "," + extra + "}";
}
}  // namespace

void Metrics::inc(const std::string& name, const std::string& labels, double by) {
  std::lock_guard lock(mu_);
  counters_[name][labels] += by;
}

void Metrics::set(const std::string& name, const std::string& labels, double value) {
  std::lock_guard lock(mu_);
  gauges_[name][labels] = value;
}

void Metrics::observe(const std::string& name, const std::string& labels, double seconds) {
  std::lock_guard lock(mu_);
  Histogram& h = histograms_[name][labels];
  if (h.buckets.empty()) h.buckets.assign(std::size(kBuckets), 0);
  for (size_t i = 0; i < std::size(kBuckets); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

double Metrics::counter(const std::string& name, const std::string& labels) const {
  std::lock_guard lock(mu_);
  auto it = counters_.find(name);
  if (it == counters_.end()) return 0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0 : jt->second;
}

std::pair<uint64_t, double> Metrics::histogram(const std::string& name, const std::string& labels) const {
  std::lock_guard lock(mu_);
  auto it = histograms_.find(name);
  if (it == histograms_.end()) return {0, 0};
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? std::pair<uint64_t, double>{0, 0} : std::pair{jt->second.count, jt->second.sum};
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, series] : counters_) {
    out += fmt::format("# TYPE {} counter\n", name);
    for (const auto& [labels, v] : series) out += fmt::format("{}{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", v);
  }
  for (const auto& [name, series] : gauges_) {
    out += fmt::format("# TYPE {} gauge\n", name);
    for (const auto& [labels, v] : series) out += fmt::format("{}{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", v);
  }
  for (const auto& [name, series] : histograms_) {
    out += fmt::format("# TYPE {} histogram\n", name);
    for (const auto& [labels, h] : series) {
      for (size_t i = 0; i < std::size(kBuckets); ++i)
        out += fmt::format("{}_bucket{} {}\n", name, with_label(labels, fmt::format("le=\"{}\"", kBuckets[i])), h.buckets[i]);
      out += fmt::format("{}_bucket{} {}\n", name, with_label(labels, "le=\"+Inf\""), h.count);
      out += fmt::format("{}_sum{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", h.sum);
      out += fmt::format("{}_count{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", h.count);
    }
  }
  return out;
}

}  // namespace arl::op
