// The job_status names, as stored in jobs.status (see the CHECK in migrations/0009_cleaned_up.sql).
#include "wharf/pg/job_state.hpp"

#include <array>
#include <utility>

namespace wharf::pg {
namespace {

constexpr std::array<std::pair<job_status, std::string_view>, 8> names = {{
    {job_status::queued, "queued"},
    {job_status::running, "running"},
    {job_status::waiting, "waiting"},
    {job_status::succeeded, "succeeded"},
    {job_status::failed, "failed"},
    {job_status::dead, "dead"},
    {job_status::cancelled, "cancelled"},
    {job_status::cleaned_up, "cleaned_up"},
}};

}  // namespace

std::string_view to_string(job_status s) noexcept {
    for (const auto& [status, name] : names)
        if (status == s) return name;
    return "unknown";
}

std::optional<job_status> job_status_from_string(std::string_view s) noexcept {
    for (const auto& [status, name] : names)
        if (name == s) return status;
    return std::nullopt;
}

}  // namespace wharf::pg
