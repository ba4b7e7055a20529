#include "kubectl/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/read_file.h"
#include "core/yaml.h"

namespace arl::kubectl {
namespace {

// Field paths of every node with its 1-based line, in the notation of
// core::FieldError (`spec.steps[1].command`).
void collect_lines(const YAML::Node& node, const std::string& path, std::map<std::string, int>& out) {
  if (!path.empty()) out.emplace(path, node.Mark().line + 1);
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      std::string child = path.empty() ? key : path + "." + key;
      // A key's own line is where the user looks, even for a block value
      // that starts on the next line.
      out.emplace(child, kv.first.Mark().line + 1);
      collect_lines(kv.second, child, out);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) collect_lines(node[i], fmt::format("{}[{}]", path, i), out);
  }
}

std::string parent_path(const std::string& path) {
  if (path.empty()) return "";
  if (path.back() == ']') return path.substr(0, path.rfind('['));
  auto dot = path.rfind('.');
  auto bracket = path.rfind(']');
  if (dot == std::string::npos) return "";
  if (bracket != std::string::npos && bracket > dot) return path.substr(0, bracket + 1);
  return path.substr(0, dot);
}

std::string describe(const nlohmann::json& v, size_t index) {
  std::string kind = v.is_object() ? v.value("kind", "") : "";
  std::string name = v.is_object() ? v.value("/metadata/name"_json_pointer, std::string()) : "";
  if (!kind.empty() && !name.empty()) return fmt::format("{} \"{}\"", kind, name);
  return fmt::format("document {}", index + 1);
}

}  // namespace

int SourceDoc::line_of(const std::string& path) const {
  for (std::string p = path; !p.empty(); p = parent_path(p)) {
    auto it = lines.find(p);
    if (it != lines.end()) return it->second;
  }
  return line;
}

std::vector<SourceDoc> parse_manifests(const std::string& text, const std::string& source) {
  auto docs = core::parse_yaml_documents(text, source);
  std::vector<SourceDoc> out;
  for (auto& d : docs) out.push_back(SourceDoc{std::move(d.value), source, d.line, {}});
  // Field lines come from yaml-cpp's marks; the documents line up with
  // parse_yaml_documents' (both skip empty ones). If they ever do not, the
  // document line is still right.
  try {
    auto nodes = YAML::LoadAll(text);
    std::vector<YAML::Node> non_empty;
    for (auto& n : nodes)
      if (n.IsDefined() && !n.IsNull()) non_empty.push_back(n);
    if (non_empty.size() == out.size())
      for (size_t i = 0; i < out.size(); ++i) collect_lines(non_empty[i], "", out[i].lines);
  } catch (const YAML::Exception&) {
  }
  return out;
}

std::vector<SourceDoc> read_manifests(const std::string& path, std::istream& in) {
  namespace fs = std::filesystem;
  if (path == "-") return parse_manifests(core::read_file_or_stdin(path, "-f", in), "<stdin>");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<SourceDoc> all;
    for (const auto& f : files) {
      auto docs = read_manifests(f, in);
      all.insert(all.end(), docs.begin(), docs.end());
    }
    return all;
  }
  return parse_manifests(core::read_file(path, "-f"), path);
}

std::string Problem::to_string() const {
  return fmt::format("{}:{}: {}: {}", source, line, object, error.to_string());
}

std::vector<Problem> validate_documents(const std::vector<SourceDoc>& docs,
                                        const std::vector<std::string>& allowed_kinds) {
  std::vector<Problem> problems;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto& d = docs[i];
    const std::string object = describe(d.value, i);
    if (!d.value.is_object()) {
      problems.push_back({d.source, d.line, object, {"", "must be a mapping (an object with apiVersion, kind, ...)"}});
      continue;
    }
    std::string kind = d.value.value("kind", "");
    if (std::find(allowed_kinds.begin(), allowed_kinds.end(), kind) == allowed_kinds.end()) {
      problems.push_back({d.source, d.line_of("kind"), object,
                          {"kind", fmt::format("\"{}\" is not accepted here (expected {})", kind,
                                               fmt::join(allowed_kinds, " or "))}});
      continue;
    }
    for (auto& e : core::validate_object(d.value)) problems.push_back({d.source, d.line_of(e.path), object, e});
  }
  return problems;
}

void throw_if_problems(const std::vector<Problem>& problems) {
  if (problems.empty()) return;
  std::string msg = fmt::format("{} problem{} found, nothing was created:", problems.size(),
                                problems.size() == 1 ? "" : "s");
  for (const auto& p : problems) msg += "\n  " + p.to_string();
  throw Error(ErrorCode::invalid, msg);
}

}  // namespace arl::kubectl
