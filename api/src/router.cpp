#include "router.hpp"

#include <algorithm>

namespace wharf::api {

namespace {

struct route_def {
    const char* method;
    const char* pattern;
    route_id id;
    const char* name;
};

// The seeds' paths (000: /api/storage/stats; 001: /api/jobs/{id}/download/{file_type}) are kept as
// aliases of the /api/v1 ones.
constexpr route_def routes[] = {
    {"GET", "/api/v1/health", route_id::health, "health"},
    {"GET", "/health", route_id::health, "health"},
    {"GET", "/api/v1/jobs", route_id::job_list, "jobs.list"},
    {"POST", "/api/v1/jobs", route_id::job_enqueue, "jobs.enqueue"},
    {"POST", "/api/v1/jobs/downloads", route_id::jobs_downloads, "jobs.downloads"},
    {"GET", "/api/v1/jobs/{id}", route_id::job_get, "jobs.get"},
    {"POST", "/api/v1/jobs/{id}/cancel", route_id::job_cancel, "jobs.cancel"},
    {"POST", "/api/v1/jobs/{id}/retry", route_id::job_retry, "jobs.retry"},
    {"GET", "/api/v1/jobs/{id}/download/{file_type}", route_id::job_download, "jobs.download"},
    {"GET", "/api/jobs/{id}/download/{file_type}", route_id::job_download, "jobs.download"},
    {"POST", "/api/v1/pipelines", route_id::pipeline_submit, "pipelines.submit"},
    {"GET", "/api/v1/storage/stats", route_id::storage_stats, "storage.stats"},
    {"GET", "/api/storage/stats", route_id::storage_stats, "storage.stats"},
    {"GET", "/api/v1/usage", route_id::usage, "usage"},
    {"POST", "/api/v1/uploads", route_id::upload_create, "uploads.create"},
    {"POST", "/api/v1/uploads/cleanup", route_id::uploads_cleanup, "uploads.cleanup"},
    {"POST", "/api/v1/uploads/presign", route_id::upload_presign, "uploads.presign"},
    {"POST", "/api/v1/uploads/{id}/complete", route_id::upload_complete, "uploads.complete"},
    {"GET", "/api/v1/uploads/{id}", route_id::upload_get, "uploads.get"},
    {"DELETE", "/api/v1/uploads/{id}", route_id::upload_delete, "uploads.delete"},
    {"POST", "/api/v1/uploads/{id}/permanent", route_id::upload_permanent, "uploads.permanent"},
    {"GET", "/api/v1/presign-cache", route_id::presign_cache_stats, "presign_cache.stats"},
    {"DELETE", "/api/v1/presign-cache", route_id::presign_cache_clear, "presign_cache.clear"},
};

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoded, or nullopt when the escape is broken or the result is not a plain segment.
std::optional<std::string> decode_segment(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            const int a = hex(s[i + 1]), b = hex(s[i + 2]);
            if (a < 0 || b < 0) return std::nullopt;
            out += static_cast<char>(a * 16 + b);
            i += 2;
        } else {
            out += s[i];
        }
    }
    if (out.empty() || out.size() > 256) return std::nullopt;
    if (std::any_of(out.begin(), out.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f || c == '/'; }))
        return std::nullopt;
    return out;
}

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> out;
    if (path.starts_with('/')) path.remove_prefix(1);
    while (true) {
        const auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

}  // namespace

route_result route(std::string_view method, std::string_view path) {
    route_result result;
    const auto segments = split(path);
    for (const auto& r : routes) {
        const auto pattern = split(r.pattern);
        if (pattern.size() != segments.size()) continue;
        route_match m{r.id, r.name, {}};
        bool ok = true;
        std::string bad;
        for (std::size_t i = 0; i < pattern.size() && ok; ++i) {
            if (pattern[i].starts_with('{')) {
                const std::string name(pattern[i].substr(1, pattern[i].size() - 2));
                auto value = decode_segment(segments[i]);
                if (!value) bad = name;
                else m.params.emplace(name, std::move(*value));
            } else if (pattern[i] != segments[i]) {
                ok = false;
            }
        }
        if (!ok) continue;
        if (method != r.method && !(method == "HEAD" && std::string_view(r.method) == "GET")) {
            if (std::find(result.allowed.begin(), result.allowed.end(), r.method) == result.allowed.end())
                result.allowed.emplace_back(r.method);
            continue;
        }
        if (!bad.empty()) {
            result.bad_param = bad;
            return result;
        }
        result.match = std::move(m);
        return result;
    }
    return result;
}

}  // namespace wharf::api
