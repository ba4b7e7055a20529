#include "stage_table.h"

#include <vector>

#include <fmt/format.h>
#include <httplib.h>

namespace arl::bench {

StageSnapshot read_stages(const std::string& metrics_url, const std::string& metric) {
  if (metrics_url.empty()) return {};
  // http://host:port/metrics
  const std::string rest = metrics_url.substr(metrics_url.find("://") + 3);
  const size_t slash = rest.find('/');
  httplib::Client cli("http://" + rest.substr(0, slash));
  auto res = cli.Get(slash == std::string::npos ? "/metrics" : rest.substr(slash));
  if (!res || res->status != 200) return {};
  return op::parse_histograms(res->body, metric);
}

void print_stage_table(const std::string& title, const StageSnapshot& before, const StageSnapshot& after,
                       const std::vector<StageRow>& rows) {
  fmt::print("{}\n", title);
  fmt::print("  {:<14} {:<44} {:>7} {:>7}  {}\n", "stage", "", "p50 ms", "p99 ms", "floor (API server alone, p50/p99 ms)");
  for (const auto& row : rows) {
    const std::string key = "stage=\"" + row.stage + "\"";
    auto a = after.find(key);
    if (a == after.end()) {
      fmt::print("  {:<14} {:<44} {:>7} {:>7}  {}\n", row.stage, row.what, "-", "-", row.floor);
      continue;
    }
    auto b = before.find(key);
    op::HistogramCounts d = b == before.end() ? a->second : op::counts_between(b->second, a->second);
    fmt::print("  {:<14} {:<44} {:>7.2f} {:>7.2f}  {}\n", row.stage, row.what, op::quantile(d, 0.5) * 1000,
               op::quantile(d, 0.99) * 1000, row.floor);
  }
}

}  // namespace arl::bench
