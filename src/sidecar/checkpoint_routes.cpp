#include "sidecar/checkpoint_routes.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/checkpoint_import.h"
#include "core/error.h"
#include "core/log.h"
#include "sidecar/checkpoint_archive.h"
#include "sidecar/credential.h"
#include "sidecar/file_clone.h"
#include "sidecar/http_errors.h"
#include "sidecar/http_json.h"
#include "sidecar/peer_fetch.h"
#include "sidecar/workdir_extract.h"

namespace arl::sidecar {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A JSON request names a source, it is not the archive: a small bound.
constexpr std::size_t kMaxJsonBody = 64 * 1024;

std::string media_type(const httplib::Request& req) {
  std::string t = req.get_header_value("Content-Type");
  t = t.substr(0, t.find(';'));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

bool truthy(const std::string& v) { return v == "1" || v == "true" || v == "yes"; }

// Reads the whole body through `reader` into `sink`. An exception from the
// sink stops using the data but the body is still read to its end, so the
// connection stays in step for its next request; then it is rethrown.
void read_body(const httplib::ContentReader& reader, const std::function<void(const char*, std::size_t)>& sink) {
  std::exception_ptr failed;
  reader([&](const char* data, std::size_t n) {
    if (failed) return true;
    try {
      sink(data, n);
    } catch (...) {
      failed = std::current_exception();
    }
    return true;
  });
  if (failed) std::rethrow_exception(failed);
}

class ImportRoute {
 public:
  ImportRoute(CheckpointStore& store, bool log) : store_(store), log_(log) {}

  void operator()(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    const auto t0 = Clock::now();
    const std::string type = media_type(req);
    bool restore = truthy(req.get_param_value("restore"));
    std::string source;
    std::unique_ptr<PendingImport> pending;
    Manifest m;
    try {
      if (type == "application/json") {
        std::string body;
        read_body(reader, [&](const char* d, std::size_t n) {
          if (body.size() + n > kMaxJsonBody)
            throw Error(ErrorCode::invalid, fmt::format("body: a JSON import request is at most {} bytes", kMaxJsonBody));
          body.append(d, n);
        });
        auto ir = parse_request<core::CheckpointImportRequest>(body);
        wipe(body);
        source = ir.source_url;
        if (!ir.keep) return import_into_workdir(ir, res, t0);
        restore = restore || ir.restore;
        pending = store_.begin_import(ir.name);
        std::optional<ArchiveImport> in;
        fetch_archive(
            {ir.source_url, ir.checkpoint}, ir.token,
            [&](bool gzip) { in.emplace(pending->pack.get(), limits(*pending), gzip); },
            [&](const char* d, std::size_t n) { feed_bounded(*in, d, n, pending->max_bytes); });
        m = in->finish();
      } else if (type == kGzipContentType || type == "application/x-gzip" || type == kTarContentType) {
        const std::string name = json{{"name", req.get_param_value("name")}}.get<core::CheckpointRequest>().name;
        pending = store_.begin_import(name);
        ArchiveImport in(pending->pack.get(), limits(*pending), type != kTarContentType);
        read_body(reader, [&](const char* d, std::size_t n) { in.feed(d, n); });
        m = in.finish();
      } else {
        throw Error(ErrorCode::invalid, "Content-Type: \"" + type + "\" is not accepted; send the archive as " +
                                            kGzipContentType + " (or " + kTarContentType +
                                            "), or application/json naming a source_url");
      }
      auto info = store_.commit_import(*pending, std::move(m), ms_since(t0));
      json out = info;
      if (restore) out["restored"] = store_.restore(info.id);
      if (log_)
        log::info("Imported checkpoint", {{"id", info.id}, {"files", std::to_string(info.files)},
                                          {"bytes", std::to_string(info.bytes)}, {"source", source.empty() ? "upload" : source},
                                          {"restored", restore ? "true" : "false"},
                                          {"duration_ms", fmt::format("{:.1f}", ms_since(t0))}});
      res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
    } catch (const StorageFull& e) {
      reply_error(res, 507, e.code(), e.what());
    } catch (const UpstreamError& e) {
      reply_error(res, 502, e.code(), e.what());
    }
  }

 private:
  // keep: false: the archive goes straight into the (empty) workdir and no
  // checkpoint is stored. The store's cap still bounds what is accepted.
  void import_into_workdir(core::CheckpointImportRequest& ir, httplib::Response& res, Clock::time_point t0) {
    const std::uint64_t cap = store_.max_bytes();
    ImportLimits l;
    l.budget = cap;
    l.max_bytes = cap;
    WorkdirExtract into(store_.workdir(), excluded_dir(store_.root()));
    std::optional<ArchiveImport> in;
    fetch_archive(
        {ir.source_url, ir.checkpoint}, ir.token, [&](bool gzip) { in.emplace(into, l, gzip); },
        [&](const char* d, std::size_t n) { feed_bounded(*in, d, n, cap); });
    Manifest m = in->finish();
    const double ms = ms_since(t0);
    core::CheckpointInfo info;
    info.files = m.files;
    info.directories = m.dirs;
    info.bytes = m.bytes;
    info.duration_ms = ms;
    core::RestoreResponse restored;
    restored.written = into.written();
    restored.duration_ms = ms;
    json out = info;
    out["restored"] = restored;
    if (log_)
      log::info("Imported into the workdir", {{"files", std::to_string(info.files)}, {"bytes", std::to_string(info.bytes)},
                                              {"source", ir.source_url}, {"duration_ms", fmt::format("{:.1f}", ms)}});
    res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  static void feed_bounded(ArchiveImport& in, const char* d, std::size_t n, std::uint64_t max_bytes) {
    in.feed(d, n);
    if (in.bytes_in() > max_compressed(max_bytes))
      throw Error(ErrorCode::invalid, fmt::format("archive: more than {} bytes compressed", max_compressed(max_bytes)));
  }

  static double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }
  static ImportLimits limits(const PendingImport& p) {
    ImportLimits l;
    l.budget = p.budget;
    l.max_bytes = p.max_bytes;
    return l;
  }
  // Compressed data larger than the cap plus room for headers is no archive
  // this store could keep (deflate never grows data by more than a fraction).
  static std::uint64_t max_compressed(std::uint64_t max_bytes) { return max_bytes + max_bytes / 8 + (64ull << 20); }

  CheckpointStore& store_;
  bool log_;
};

}  // namespace

void add_checkpoint_archive_routes(httplib::Server& svr, CheckpointStore& store, bool log_requests) {
  svr.Get(R"(/checkpoints/([^/]+)/archive)", [&store](const httplib::Request& req, httplib::Response& res) {
    // ?format=tar|tar.gz (default tar.gz), ?level=0..9 for tar.gz.
    const std::string format = req.has_param("format") ? req.get_param_value("format") : "tar.gz";
    if (format != "tar" && format != "tar.gz")
      throw Error(ErrorCode::invalid, "format: \"" + format.substr(0, 16) + "\" is not an archive format; use tar.gz (the default) or tar");
    int level = 1;  // fast and still small for source code
    if (req.has_param("level")) {
      const std::string v = req.get_param_value("level");
      if (format == "tar") throw Error(ErrorCode::invalid, "level: only a tar.gz archive is compressed; leave level out with format=tar");
      if (v.size() != 1 || v[0] < '0' || v[0] > '9')
        throw Error(ErrorCode::invalid, "level: \"" + v.substr(0, 16) + "\" is not a gzip level 0-9 (0: no compression)");
      level = v[0] - '0';
    }
    const bool plain = format == "tar";
    // Opened before the 200: an unknown checkpoint is a 404, not a broken stream.
    auto src = store.open_archive(req.matches[1].str());
    auto exporter = std::make_shared<ArchiveExport>(std::move(src.manifest), std::move(src.pack), plain ? kPlainTar : level);
    res.set_header("Content-Disposition", "attachment; filename=\"checkpoint-" + req.matches[1].str() + "." + format + "\"");
    res.set_chunked_content_provider(plain ? kTarContentType : kGzipContentType, [exporter, ref = req.matches[1].str()](std::size_t, httplib::DataSink& sink) {
      std::string piece;
      try {
        while (exporter->next(piece))
          if (!sink.write(piece.data(), piece.size())) return false;  // the client went away
      } catch (const std::exception& e) {
        // The 200 is out: ending without the gzip trailer is the only way
        // left to tell the client, and every reader notices it.
        log::error("Failed checkpoint archive", {{"ref", ref}, {"error", e.what()}});
        return false;
      } catch (...) {
        return false;
      }
      sink.done();
      return true;
    });
  });
  svr.Post("/checkpoints/import", ImportRoute(store, log_requests));
}

}  // namespace arl::sidecar
