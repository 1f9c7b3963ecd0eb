// Secrets never reach a log: helpers that strip them from what is printed.
#pragma once

#include <string>
#include <string_view>

namespace wharf {

// "redis://user:secret@host:6379/0" -> "redis://user:***@host:6379/0"; also masks
// password=... / sslpassword=... in libpq key-value strings and URL queries, and the
// X-Amz-Signature / X-Amz-Credential / sig query parameters of presigned URLs.
std::string redact(std::string_view text);

}  // namespace wharf
