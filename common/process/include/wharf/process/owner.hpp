// Who runs a piece of long work ("host:pid"), recorded in its PostgreSQL row (a migration run, a
// backup), and whether such an owner is a process of this host that no longer exists -- the only
// case in which another process may take the work over at once instead of waiting for a lease.
#pragma once

#include <string>

namespace wharf::process {

std::string this_process();  // "host:pid"
bool owner_is_dead_here(const std::string& owner);

}  // namespace wharf::process
