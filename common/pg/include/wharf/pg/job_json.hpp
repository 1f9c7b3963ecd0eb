// A job's row as JSON, the one shape `wharfctl status --json` and wharf-api's job routes print.
// The stored result and progress are embedded as JSON (parsed with limits: a row is outside input
// to its readers), or as text should they somehow not parse.
#pragma once

#include "wharf/pg/job_state.hpp"

#include <nlohmann/json.hpp>

namespace wharf::pg {

nlohmann::json stored_json(const std::optional<std::string>& text);
nlohmann::json job_json(const job_row& row);

}  // namespace wharf::pg
