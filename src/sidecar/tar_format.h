#pragma once
// The tar format of checkpoint archives (checkpoint_archive.h), written and
// read by hand: POSIX ustar headers, with a PAX extended header ('x') before
// an entry whose name or link target is over 100 bytes or whose size does not
// fit ustar's 11 octal digits. Written by hand because libarchive would add a
// large C dependency (and its own compression back ends) to the static musl
// build (scripts/build-static.sh) for a few hundred lines of a simple, fixed
// format. The reader also takes GNU tar's long-name entries ('L', 'K') and
// base-256 sizes, so archives made by `tar czf` import too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace arl::sidecar::tar {

inline constexpr std::size_t kBlock = 512;
/// Largest PAX or GNU long-name payload accepted: a path is at most 4 KiB on
/// Linux, so anything bigger is not an archive of a workdir.
inline constexpr std::uint64_t kMaxExtendedBytes = 64 * 1024;

/// ustar type flags.
inline constexpr char kFile = '0';
inline constexpr char kOldFile = '\0';  // pre-POSIX regular file
inline constexpr char kHardLink = '1';
inline constexpr char kSymlink = '2';
inline constexpr char kCharDevice = '3';
inline constexpr char kBlockDevice = '4';
inline constexpr char kDirectory = '5';
inline constexpr char kFifo = '6';
inline constexpr char kContiguous = '7';
inline constexpr char kPaxNext = 'x';
inline constexpr char kPaxGlobal = 'g';
inline constexpr char kGnuLongName = 'L';
inline constexpr char kGnuLongLink = 'K';

/// One archive member as the writer takes it and the reader reports it
/// (extended headers already applied).
struct Entry {
  char type = kFile;
  std::string path;      // as stored: directories end in '/'
  std::string linkpath;  // symlink and hard link targets
  std::uint32_t mode = 0;
  std::uint64_t size = 0;  // data bytes following the header (files only)
  std::int64_t mtime = 0;  // seconds since the epoch
};

/// Appends the header block(s) of `e` to `out`: a PAX header first when ustar
/// cannot hold a field.
void write_header(std::string& out, const Entry& e);

/// Zero bytes that pad `size` data bytes to a whole block.
std::size_t padding(std::uint64_t size);

/// The two zero blocks that end an archive.
std::string_view end_of_archive();

/// Push parser: feed() takes the archive in pieces of any size and calls the
/// handler once per member, then with its data in order. Throws Error{invalid}
/// naming the member (or its position) for anything that is not tar.
class Reader {
 public:
  struct Handler {
    virtual ~Handler() = default;
    virtual void on_entry(const Entry& e) = 0;
    virtual void on_data(const char* data, std::size_t n) = 0;
  };

  explicit Reader(Handler& handler) : handler_(handler) {}
  void feed(const char* data, std::size_t n);
  /// Throws Error{invalid} when the archive ended before its end marker.
  void finish();
  bool ended() const { return state_ == State::ended; }

 private:
  enum class State { header, extended, data, padding, ended };
  void on_header_block();
  void on_extended_done();

  Handler& handler_;
  State state_ = State::header;
  std::string buf_;               // the header or extended payload being gathered
  std::uint64_t want_ = 0;        // bytes left in the current state
  std::uint64_t padding_after_ = 0;  // zero bytes after the current payload
  std::uint64_t header_at_ = 0;   // archive offset of the current header, for messages
  char extended_type_ = 0;
  std::string next_path_, next_linkpath_;  // from 'x', 'L', 'K' for the next member
  bool next_size_set_ = false;
  std::uint64_t next_size_ = 0;
  std::uint64_t members_ = 0;     // headers read, for messages
  std::uint64_t offset_ = 0;      // archive bytes read, for messages
  std::string current_;           // the member whose data is being read
};

}  // namespace arl::sidecar::tar
