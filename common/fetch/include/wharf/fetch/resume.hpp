// Resuming a partial download (pure): what to ask for (Range + If-Range), and what the server's
// answer means for the bytes already on disk.
//
//   sent Range from N      answer                             decision
//   -                      200                                write from 0
//   bytes=N- If-Range: V   200 (V no longer matches)          write from 0 (start over)
//   bytes=N- If-Range: V   206 Content-Range: bytes N-x/T     append at N
//   bytes=N- If-Range: V   206 for another range, or encoded  restart (ask again without Range)
//   bytes=N- If-Range: V   416 Content-Range: bytes */N       verify what is there: it is complete
//   bytes=N- If-Range: V   416 with another length            restart
//
// A partial file is only resumed with a validator that makes If-Range safe: a strong ETag, else
// Last-Modified. Validators are checked before they are kept or sent (printable ASCII, bounded),
// since they come from a server and go back out as a request header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::fetch {

inline constexpr std::size_t max_validator_bytes = 1024;

struct validator {
    std::optional<std::string> etag;
    std::optional<std::string> last_modified;
    friend bool operator==(const validator&, const validator&) = default;
};

// A header value fit to be kept and sent back: 1 to max_validator_bytes of printable ASCII (space
// allowed inside, no control characters).
bool is_safe_validator(std::string_view value) noexcept;
// The If-Range value for a validator: a strong ETag, else Last-Modified; nullopt when neither
// (a weak ETag W/"..." may not be used with If-Range).
std::optional<std::string> if_range_value(const validator& v);

// The part of a request that continues a partial file.
struct range_request {
    std::uint64_t from = 0;  // bytes already on disk: "Range: bytes=<from>-"
    std::string if_range;
    friend bool operator==(const range_request&, const range_request&) = default;
};

// What the partial file holds and what the response that began it said.
struct partial_state {
    std::uint64_t bytes = 0;
    validator v;
    std::optional<std::uint64_t> total;  // the complete length, when the response told it
};

// nullopt: fetch from 0 (nothing on disk, no usable validator, or more bytes than the total).
std::optional<range_request> plan_resume(const partial_state& partial);

// Content-Range of a 206 ("bytes 0-99/1234", "bytes 0-99/*") or a 416 ("bytes */1234").
struct content_range {
    std::optional<std::uint64_t> first, last;  // both or neither (neither: unsatisfied, "*/N")
    std::optional<std::uint64_t> complete;      // nullopt for "/*"
    friend bool operator==(const content_range&, const content_range&) = default;
};
inline constexpr std::size_t max_content_range_bytes = 128;
// Strict: "bytes" unit, decimal numbers without signs (at most 19 digits), first <= last,
// last < complete; optional whitespace only after the unit. nullopt for anything else.
std::optional<content_range> parse_content_range(std::string_view value);

enum class resume_action {
    write_from_zero,  // truncate, write the body from offset 0
    append,           // keep the bytes on disk, write the body after them
    verify_existing,  // no body: the bytes on disk are the whole resource
    restart,          // the answer cannot continue this file: discard it and ask again without Range
};

struct resume_decision {
    resume_action action = resume_action::write_from_zero;
    std::uint64_t offset = 0;             // where the body's first byte goes
    std::optional<std::uint64_t> total;   // the complete length, when known
    std::string reason;                   // for logs: why a restart
};

// The answer to a request (a 2xx or a 416 to a ranged request; the client has turned every other
// status into an error). `sent` is the range asked for; content_length and content_encoding are
// the response's (the length of a 200 is its total only when it is not encoded).
resume_decision decide_resume(const std::optional<range_request>& sent, int status,
                              std::optional<std::string_view> content_range_header,
                              std::optional<std::uint64_t> content_length, std::string_view content_encoding);

// The sidecar kept next to a partial file: the validator of the response that began it, its total,
// and a digest of the URL (a retried job with another URL starts over). JSON, at most 4 KiB.
struct sidecar {
    std::string url_digest;  // 64 hex characters
    validator v;
    std::optional<std::uint64_t> total;
    friend bool operator==(const sidecar&, const sidecar&) = default;
};
inline constexpr std::size_t max_sidecar_bytes = 4096;
std::string encode_sidecar(const sidecar& s);
// nullopt for anything not written by encode_sidecar (or damaged): the partial file is not resumed.
std::optional<sidecar> decode_sidecar(std::string_view text);

}  // namespace wharf::fetch
