#include "wharf/pg/job_json.hpp"

#include "wharf/core/json.hpp"

namespace wharf::pg {

namespace {
nlohmann::json optional_text(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
}  // namespace

nlohmann::json stored_json(const std::optional<std::string>& v) {
    if (!v) return nullptr;
    constexpr json_limits limits{.max_bytes = 64 * 1024 * 1024, .max_depth = 128};
    auto parsed = parse_json(*v, limits);
    return parsed ? std::move(parsed.value) : nlohmann::json(*v);
}

nlohmann::json job_json(const job_row& row) {
    return {{"id", row.id},
            {"queue", row.queue},
            {"status", std::string{to_string(row.status)}},
            {"attempts", row.attempts},
            {"max_attempts", row.max_attempts},
            {"epoch", row.epoch},
            {"error", optional_text(row.error)},
            {"result", stored_json(row.result_json)},
            {"progress", stored_json(row.progress_json)},
            {"api_key", optional_text(row.api_key)},
            {"parent_id", optional_text(row.parent_id)},
            {"created_at", row.created_at},
            {"updated_at", row.updated_at},
            {"started_at", optional_text(row.started_at)},
            {"finished_at", optional_text(row.finished_at)},
            {"run_at", optional_text(row.run_at)}};
}

}  // namespace wharf::pg
