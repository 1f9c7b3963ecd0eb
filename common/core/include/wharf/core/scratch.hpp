// How a job's scratch files and folders are named, so that the temp_files sweep can tell which
// running job owns one: <kind>-<queue>-<id><suffix>, the queue and id with every character but
// letters, digits, '-' and '.' replaced by '_'. Pure.
#pragma once

#include <string>
#include <string_view>

namespace wharf {

// "<kind>-<queue>-<id>" sanitised; the caller appends its suffix (".part", "+1a2b3c4d", ...).
std::string scratch_name(std::string_view kind, std::string_view queue, std::string_view id);
// "<queue>-<id>" sanitised: what follows "<kind>-" in the names of that job's entries.
std::string scratch_owner(std::string_view queue, std::string_view id);

}  // namespace wharf
