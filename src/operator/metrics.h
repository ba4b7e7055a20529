#pragma once
// Prometheus text exposition of the operator's counters and histograms.
// Hand-written: none of our libraries speaks the Prometheus format, and the
// subset we need (counters, gauges, fixed-bucket histograms) is small.
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace arl::op {

class Metrics {
 public:
  void inc(const std::string& name, const std::string& labels = "", double by = 1);
  void set(const std::string& name, const std::string& labels, double value);
  /// Seconds; buckets from 0.1 ms to 60 s.
  void observe(const std::string& name, const std::string& labels, double seconds);
  std::string render() const;
  double counter(const std::string& name, const std::string& labels = "") const;
  /// Observations and their sum in seconds; {0, 0} when none.
  std::pair<uint64_t, double> histogram(const std::string& name, const std::string& labels = "") const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, double>> counters_, gauges_;
  std::map<std::string, std::map<std::string, Histogram>> histograms_;
};

}  // namespace arl::op
