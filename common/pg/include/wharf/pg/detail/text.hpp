// Pure helpers at the libpq boundary: connection strings, error classification, and the text
// encoding of array parameters. No I/O, so each one is unit-tested on its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::pg::detail {

// Adds connect_timeout and application_name to a libpq URL ("postgresql://...") or key-value
// string unless it already names them, so every connect has a deadline and operators can tell
// wharf's sessions apart in pg_stat_activity.
std::string with_connect_defaults(std::string_view conninfo, std::chrono::seconds connect_timeout,
                                  std::string_view application_name = "wharf");

// A libpq / server message as one printable line: newlines and tabs folded to single spaces,
// trimmed, and passed through wharf::redact().
std::string one_line(std::string_view message);

// Whether a failed connect will fail the same way on retry (bad password, missing database or
// role, no pg_hba.conf entry, malformed connection string) rather than being a server that is
// down, starting or full.
bool is_permanent_connect_error(std::string_view message) noexcept;

// Whether an SQLSTATE says the session is gone (class 08 connection exceptions, 57P0x
// operator intervention: admin/crash shutdown, cannot connect now).
bool is_connection_sqlstate(std::string_view sqlstate) noexcept;

// Whether an SQLSTATE names a transaction that failed only because of a concurrent one
// (40001 serialization_failure, 40P01 deadlock_detected): running it again may succeed.
bool is_retryable_sqlstate(std::string_view sqlstate) noexcept;

// Makes text storable in a PostgreSQL `text` column: NUL bytes removed and invalid UTF-8
// sequences replaced with U+FFFD (job errors may quote arbitrary tool output).
std::string sanitize_text(std::string_view text);

// Whether a JSON text can be stored as jsonb: valid JSON and free of \u0000, which jsonb rejects.
bool is_storable_json(std::string_view json) noexcept;

// Builds the text form of a one-dimensional PostgreSQL array ('{"a","b",NULL}') element by
// element, for passing many rows as one parameter ($1::text[]) to unnest(). Elements are always
// quoted, with backslash and double quote escaped, so any text round-trips.
class array_literal {
public:
    array_literal() { out_.push_back('{'); }
    void reserve(std::size_t bytes) { out_.reserve(bytes); }
    void push(std::string_view text);
    void push(std::int64_t value);
    void push_null();
    void push_optional(const std::optional<std::string>& text) {
        if (text) push(std::string_view{*text});
        else push_null();
    }
    std::size_t size() const noexcept { return count_; }
    // The literal, closed. The builder may not be used afterwards.
    std::string finish() &&;

private:
    void separator();
    std::string out_;
    std::size_t count_ = 0;
};

}  // namespace wharf::pg::detail
