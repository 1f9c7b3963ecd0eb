// Errors of the storage domain.
#pragma once

#include <stdexcept>
#include <string>

namespace wharf::storage {

enum class errc {
    not_found = 1,
    access_denied,       // bad credentials or signature (403)
    invalid_key,         // refused before any I/O
    integrity,           // checksum or byte count mismatch
    quota_exceeded,
    all_providers_full,
    transient,           // 5xx, SlowDown, RequestTimeout, reset, timeout: worth retrying
    permanent,           // any other 4xx / malformed reply
    aborted,
};

class error : public std::runtime_error {
public:
    error(errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
    errc code() const noexcept { return code_; }
    bool retryable() const noexcept { return code_ == errc::transient; }

private:
    errc code_;
};

}  // namespace wharf::storage
