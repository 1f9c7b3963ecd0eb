// Owners of long work (see owner.hpp).
#include "wharf/process/owner.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace wharf::process {

std::string this_process() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
    return std::string(host) + ":" + std::to_string(::getpid());
}

bool owner_is_dead_here(const std::string& owner) {
    const auto colon = owner.rfind(':');
    if (colon == std::string::npos) return false;
    const std::string me = this_process();
    if (owner.substr(0, colon) != me.substr(0, me.rfind(':'))) return false;
    char* end = nullptr;
    const long pid = std::strtol(owner.c_str() + colon + 1, &end, 10);
    if (pid <= 0 || *end != '\0') return false;
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace wharf::process
