// What every wharf-api handler answers with: JSON bodies, and the one way a request names a
// presigned URL's lifetime.
#pragma once

#include "wharf/http/server.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace wharf::api {

inline http::server_response ok(const nlohmann::json& body, unsigned status = 200) {
    http::server_response r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

// ?expires=<seconds> (60 s to 7 days), else `fallback`; nullopt when it is given but bad.
inline std::optional<std::chrono::seconds> url_expiry(const http::server_request& req, std::chrono::seconds fallback) {
    const auto given = req.query_param("expires");
    if (!given) return fallback;
    int v = 0;
    try {
        std::size_t used = 0;
        v = std::stoi(*given, &used);
        if (used != given->size()) return std::nullopt;
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (v < 60 || v > 604800) return std::nullopt;
    return std::chrono::seconds(v);
}
inline constexpr const char* url_expiry_rule = "seconds, from 60 to 604800";

}  // namespace wharf::api
