#pragma once
// The operator's per-stage histograms (arl_allocation_stage_seconds,
// arl_task_stage_seconds) read from its /metrics before and after a run,
// printed as a p50/p99 table beside the API server's floors.
#include <map>
#include <string>

#include "operator/histogram_text.h"

namespace arl::bench {

using StageSnapshot = std::map<std::string, op::HistogramCounts>;  // by `stage="..."`

/// The operator's histogram `metric` now; empty when `metrics_url` is empty
/// or does not answer.
StageSnapshot read_stages(const std::string& metrics_url, const std::string& metric);

struct StageRow {
  std::string stage;  // as labelled by the operator
  std::string what;   // what the stage is, for the reader
  std::string floor;  // the comparable floor, "" when none
};

/// One line per row: stage, what, p50 and p99 of the observations between
/// the two snapshots, and the floor.
void print_stage_table(const std::string& title, const StageSnapshot& before, const StageSnapshot& after,
                       const std::vector<StageRow>& rows);

}  // namespace arl::bench
