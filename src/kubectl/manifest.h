#pragma once
// Reading user manifests (-f FILE, -f - for stdin, a directory) into JSON
// documents that remember where they came from, so every validation problem
// is reported as `file:line: field.path: message` in one go.
#include <istream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/validation.h"

namespace arl::kubectl {

struct SourceDoc {
  nlohmann::json value;
  std::string source;                 // file name, or "<stdin>"
  int line = 1;                       // where the document starts
  std::map<std::string, int> lines;   // field path (spec.steps[1].command) -> line
  /// The line of `path`, or of its nearest ancestor present in the file
  /// (a missing field is reported where its parent is).
  int line_of(const std::string& path) const;
};

/// Parses a `---`-separated YAML (or JSON) stream. Throws Error{invalid} with
/// source:line:column on a syntax error.
std::vector<SourceDoc> parse_manifests(const std::string& text, const std::string& source);

/// Reads FILE, or stdin for "-", or every *.yaml/*.yml/*.json of a directory
/// (sorted). Throws Error{not_found} naming the path when it cannot be read.
std::vector<SourceDoc> read_manifests(const std::string& path, std::istream& in);

struct Problem {
  std::string source;
  int line = 0;
  std::string object;   // `Task "t1"` or `document 2`
  core::FieldError error;
  std::string to_string() const;
};

/// Runs core::validate_object on each document and adds kind checks: only
/// `allowed_kinds` are accepted. Returns every problem, in file order.
std::vector<Problem> validate_documents(const std::vector<SourceDoc>& docs,
                                        const std::vector<std::string>& allowed_kinds);

/// Throws Error{invalid} listing every problem (one per line) when there are any.
void throw_if_problems(const std::vector<Problem>& problems);

}  // namespace arl::kubectl
