// The job envelope: the versioned JSON a producer puts in a stream entry's "job" field.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace wharf::queue {

inline constexpr int envelope_version = 1;
// Limits on what a producer may send: the whole envelope's size and nesting depth (the envelope
// object is level 1, its payload level 2). Larger or deeper envelopes are dead-lettered.
inline constexpr std::size_t max_envelope_bytes = 8 * 1024 * 1024;
inline constexpr std::size_t max_envelope_depth = 64;

struct envelope {
    int version = envelope_version;        // "v"; absent means 1; a newer major is refused
    std::string type;                      // must equal the queue (absent: the queue)
    std::string payload_json = "{}";       // "payload": an object, required
    std::optional<std::string> id;         // producer idempotency id, [A-Za-z0-9._:-]{1,128}
    std::optional<std::string> api_key;
    std::optional<std::int32_t> max_attempts;  // 1..100
    std::optional<std::int32_t> timeout_s;     // 1..86400*7
    std::optional<std::chrono::system_clock::time_point> run_at;  // RFC 3339
    std::optional<std::string> parent_id;  // pipelines: the job that enqueued this one
    // Set by wharf itself when it re-enqueues (retry, delay, dead retry):
    std::int32_t attempt = 1;              // "attempt": the attempt this delivery runs
    std::optional<std::string> token;      // "_token": the run's duplicate-detection token
    std::int32_t generation = 0;           // "_gen": bumped by each dead retry (the fence's first part)
    std::string extra_json = "{}";         // unknown fields, kept as they were
};

// Input-dependent failure: a readable reason, for the dead-letter entry and the jobs row.
struct decode_error {
    std::string reason;
};

// Decodes `text` read from queue `queue`. Never throws on bad input.
std::variant<envelope, decode_error> decode(std::string_view text, std::string_view queue);
// Encodes with unknown fields preserved; run_at as RFC 3339 UTC with milliseconds.
std::string encode(const envelope& e);

// RFC 3339 helpers (also used by wharfctl --delay and status output).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace wharf::queue
