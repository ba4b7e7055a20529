#include "kubectl/output.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/types.h"
#include "core/yaml.h"

namespace arl::kubectl {

OutputFormat parse_output_format(const std::string& text) {
  if (text.empty() || text == "table") return OutputFormat::table;
  if (text == "wide") return OutputFormat::wide;
  if (text == "json") return OutputFormat::json;
  if (text == "yaml") return OutputFormat::yaml;
  if (text == "name") return OutputFormat::name;
  throw Error(ErrorCode::usage,
              fmt::format("unable to match a printer suitable for the output format \"{}\", allowed formats are: "
                          "json, name, table, wide, yaml",
                          text));
}

std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string age_of(const std::string& timestamp, std::time_t now) {
  auto t = core::parse_rfc3339(timestamp);
  if (!t) return "<unknown>";
  return core::format_age(std::chrono::seconds(static_cast<int64_t>(now) - *t));
}

std::string field_text(const json& obj, const std::string& dotted_path) {
  const json* cur = &obj;
  size_t start = 0;
  while (start <= dotted_path.size()) {
    size_t dot = dotted_path.find('.', start);
    std::string key = dotted_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return "";
    auto it = cur->find(key);
    if (it == cur->end()) return "";
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

std::string qualified_name(const KindView& view, const json& obj) {
  std::string kind = view.group.empty() ? view.kind_lower : view.kind_lower + "." + view.group;
  return kind + "/" + field_text(obj, "metadata.name");
}

std::string render_objects(const std::vector<json>& items, const KindView& view, const PrintOptions& opts,
                           bool single) {
  switch (opts.format) {
    case OutputFormat::json:
    case OutputFormat::yaml: {
      // managedFields are noise to a reader; kubectl hides them by default too.
      std::vector<json> shown = items;
      for (auto& item : shown)
        if (item.contains("metadata") && item["metadata"].is_object()) item["metadata"].erase("managedFields");
      json doc;
      if (single && shown.size() == 1) {
        doc = shown.front();
      } else {
        doc = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", shown}, {"metadata", {{"resourceVersion", ""}}}};
      }
      if (opts.format == OutputFormat::json) return doc.dump(4) + "\n";
      return core::to_yaml(doc);
    }
    case OutputFormat::name: {
      std::string out;
      for (const auto& item : items) out += qualified_name(view, item) + "\n";
      return out;
    }
    case OutputFormat::table:
    case OutputFormat::wide:
      break;
  }
  const bool wide = opts.format == OutputFormat::wide;
  const std::time_t now = opts.now ? opts.now : std::time(nullptr);
  std::vector<std::vector<std::string>> rows;
  if (!opts.no_headers) {
    std::vector<std::string> header;
    if (opts.with_namespace) header.push_back("NAMESPACE");
    header.push_back("NAME");
    for (const auto& c : view.columns)
      if (wide || !c.wide_only) header.push_back(c.header);
    header.push_back("AGE");
    rows.push_back(std::move(header));
  }
  for (const auto& item : items) {
    std::vector<std::string> row;
    if (opts.with_namespace) row.push_back(field_text(item, "metadata.namespace"));
    row.push_back(field_text(item, "metadata.name"));
    for (const auto& c : view.columns)
      if (wide || !c.wide_only) row.push_back(c.value(item));
    row.push_back(age_of(field_text(item, "metadata.creationTimestamp"), now));
    rows.push_back(std::move(row));
  }
  return render_table(rows);
}

namespace {

Column field_column(std::string header, std::string path, bool wide_only = false) {
  return Column{std::move(header), [path](const json& o) { return field_text(o, path); }, wide_only};
}

// Counts default to 0 like the printer columns of a fresh object would not,
// but a blank READY column reads as broken; kubectl shows 0 for replica counts.
Column count_column(std::string header, std::string path, bool wide_only = false) {
  return Column{std::move(header),
                [path](const json& o) {
                  auto v = field_text(o, path);
                  return v.empty() ? std::string("0") : v;
                },
                wide_only};
}

std::string first_image(const json& pool) {
  const auto containers = pool.value("/spec/template/spec/containers"_json_pointer, json::array());
  if (!containers.is_array() || containers.empty()) return "";
  return containers[0].value("image", "");
}

std::string step_summary(const json& task) {
  const auto steps = task.value("/status/steps"_json_pointer, json::array());
  const auto spec_steps = task.value("/spec/steps"_json_pointer, json::array());
  size_t done = 0;
  if (steps.is_array())
    for (const auto& s : steps)
      if (s.value("state", "") == "Succeeded") ++done;
  return fmt::format("{}/{}", done, spec_steps.is_array() ? spec_steps.size() : 0);
}

// Per Command step that ran: "NAME=CPU/RSS", CPU the user+system time and
// RSS the largest process's peak, e.g. "build=1.2s/48Mi,test=35ms/9.5Mi".
std::string step_usage(const json& task) {
  const auto steps = task.value("/status/steps"_json_pointer, json::array());
  std::string out;
  if (!steps.is_array()) return out;
  for (const auto& s : steps) {
    if (!s.is_object() || !s.contains("usage") || !s["usage"].is_object()) continue;
    const json& u = s["usage"];
    const double cpu_ms = u.value("cpuUserMs", 0.0) + u.value("cpuSystemMs", 0.0);
    const double rss_mi = u.value("maxRssKb", 0.0) / 1024.0;
    std::string cpu = cpu_ms >= 1000 ? fmt::format("{:.1f}s", cpu_ms / 1000) : fmt::format("{:.0f}ms", cpu_ms);
    out += fmt::format("{}{}={}/{:.1f}Mi", out.empty() ? "" : ",", s.value("name", ""), cpu, rss_mi);
  }
  return out;
}

}  // namespace

const KindView& pool_view() {
  static const KindView v{"warmpool",
                          "arl.infra.io",
                          {count_column("READY", "status.readyReplicas"),
                           count_column("ALLOCATED", "status.allocatedReplicas"),
                           count_column("DESIRED", "spec.replicas"), field_column("PHASE", "status.phase"),
                           Column{"IMAGE", first_image, true}}};
  return v;
}

const KindView& sandbox_view() {
  static const KindView v{"sandbox",
                          "arl.infra.io",
                          {field_column("PHASE", "status.phase"), field_column("POOL", "spec.poolRef"),
                           field_column("POD", "status.podName"), field_column("IP", "status.podIP", true),
                           Column{"KEEPALIVE",
                                  [](const json& o) { return field_text(o, "spec.keepAlive") == "true" ? "true" : "false"; },
                                  true}}};
  return v;
}

const KindView& task_view() {
  static const KindView v{"task",
                          "arl.infra.io",
                          {field_column("STATE", "status.state"), field_column("EXIT", "status.exitCode"),
                           field_column("SANDBOX", "spec.sandboxRef"), field_column("DURATION", "status.duration"),
                           Column{"STEPS", step_summary, true}, Column{"STEP-USAGE", step_usage, true},
                           field_column("MESSAGE", "status.message", true)}};
  return v;
}

}  // namespace arl::kubectl
