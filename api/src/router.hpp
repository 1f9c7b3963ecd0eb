// wharf-api's routes: which handler a method and path go to, with the path's parameters. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::api {

enum class route_id {
    health,
    job_get,
    job_list,
    job_enqueue,
    pipeline_submit,
    job_cancel,
    job_retry,
    job_download,
    jobs_downloads,
    storage_stats,
    usage,
    upload_create,
    upload_presign,
    upload_complete,
    upload_get,
    upload_permanent,
    upload_delete,
    uploads_cleanup,
    presign_cache_stats,
    presign_cache_clear,
};

struct route_match {
    route_id id;
    std::string name;  // the metrics' route label: "jobs.get"
    std::map<std::string, std::string> params;  // percent-decoded
};

struct route_result {
    std::optional<route_match> match;
    // The path names a route, but not with this method: 405 with these in Allow.
    std::vector<std::string> allowed;
    // A parameter was not acceptable (empty, too long, a '/' or a control character once decoded).
    std::string bad_param;
};

route_result route(std::string_view method, std::string_view path);

}  // namespace wharf::api
