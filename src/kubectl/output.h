#pragma once
// How the plugin prints objects: kubectl-style aligned tables (table/wide),
// the server's object as JSON or YAML, or kind/name. Pure functions of their
// input (the clock is a parameter) so tests pin every byte.
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::kubectl {

using json = nlohmann::json;

enum class OutputFormat { table, wide, json, yaml, name };

/// "table" (or ""), "wide", "json", "yaml", "name"; anything else throws
/// Error{usage} listing the allowed values.
OutputFormat parse_output_format(const std::string& text);

struct Column {
  std::string header;                          // upper case, as kubectl prints it
  std::function<std::string(const json&)> value;
  bool wide_only = false;                      // shown with -o wide only
};

/// Everything the printer needs to know about one kind.
struct KindView {
  std::string kind_lower;  // "warmpool"
  std::string group;       // "arl.infra.io"; "" for core kinds
  std::vector<Column> columns;  // NAME is added in front, AGE is not implied
};

struct PrintOptions {
  OutputFormat format = OutputFormat::table;
  bool no_headers = false;
  bool with_namespace = false;  // -A: a NAMESPACE column first
  std::time_t now = 0;          // for AGE columns; 0 means std::time(nullptr)
};

/// Rows of cells into lines whose columns are left aligned and separated by
/// three spaces (kubectl's tabwriter padding); no trailing blanks.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

/// Age of an RFC 3339 timestamp relative to `now` ("5s", "3m", "2h");
/// "<unknown>" when the timestamp is missing or malformed.
std::string age_of(const std::string& timestamp, std::time_t now);

/// A field of `obj` by dotted path ("status.readyReplicas") as display text:
/// strings as-is, numbers and booleans as JSON, missing -> "".
std::string field_text(const json& obj, const std::string& dotted_path);

/// Prints `items` in the chosen format. `single` is a `get NAME`: JSON/YAML
/// print the object itself rather than a List.
std::string render_objects(const std::vector<json>& items, const KindView& view, const PrintOptions& opts,
                           bool single = false);

/// kind.group/name as `-o name` prints it, e.g. warmpool.arl.infra.io/p1.
std::string qualified_name(const KindView& view, const json& obj);

/// The views of ARL's kinds (columns follow the CRDs' printer columns).
const KindView& pool_view();
const KindView& sandbox_view();
const KindView& task_view();

}  // namespace arl::kubectl
