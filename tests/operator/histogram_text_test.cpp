// Reading our own histograms back (the benchmark's stage table).
#include <doctest/doctest.h>

#include <limits>

#include "operator/histogram_text.h"
#include "operator/metrics.h"

using namespace arl::op;

TEST_CASE("histograms rendered by Metrics read back per series, without le") {
  Metrics m;
  m.observe("arl_stage_seconds", "stage=\"claim\"", 0.0042);
  m.observe("arl_stage_seconds", "stage=\"claim\"", 0.0042);
  m.observe("arl_stage_seconds", "stage=\"bind\"", 0.0008);
  m.observe("arl_other_seconds", "", 1);
  auto all = parse_histograms(m.render(), "arl_stage_seconds");
  REQUIRE(all.size() == 2);
  CHECK(all.at("stage=\"claim\"").count() == 2);
  CHECK(all.at("stage=\"bind\"").count() == 1);
  auto other = parse_histograms(m.render(), "arl_other_seconds");
  REQUIRE(other.count("") == 1);
  CHECK(other.at("").count() == 1);
}

TEST_CASE("quantiles interpolate inside the bucket that holds the rank") {
  HistogramCounts h{{{0.001, 0}, {0.002, 10}, {0.004, 20}, {std::numeric_limits<double>::infinity(), 20}}};
  CHECK(quantile(h, 0.5) == doctest::Approx(0.002));    // rank 10: the top of the 1-2 ms bucket
  CHECK(quantile(h, 0.25) == doctest::Approx(0.0015));  // rank 5: halfway through it
  CHECK(quantile(h, 0.75) == doctest::Approx(0.003));
  CHECK(quantile(HistogramCounts{}, 0.5) == 0);
  HistogramCounts beyond{{{0.01, 0}, {std::numeric_limits<double>::infinity(), 3}}};
  CHECK(quantile(beyond, 0.99) == doctest::Approx(0.01));  // beyond the last bound: that bound
}

TEST_CASE("the observations between two snapshots are their difference") {
  Metrics m;
  m.observe("s", "", 0.0005);
  auto before = parse_histograms(m.render(), "s").at("");
  m.observe("s", "", 0.02);
  m.observe("s", "", 0.02);
  auto between = counts_between(before, parse_histograms(m.render(), "s").at(""));
  CHECK(between.count() == 2);
  CHECK(quantile(between, 0.5) > 0.0175);  // the early fast one is not in it
  CHECK(quantile(between, 0.5) <= 0.02);
}
