// Secrets never reach a log: helpers that strip them from what is printed.
#pragma once

#include <string>
#include <string_view>

namespace wharf {

// "redis://user:secret@host:6379/0" -> "redis://user:***@host:6379/0"; also masks
// password=... / sslpassword=... in libpq key-value strings and URL queries, and the
// X-Amz-Signature / X-Amz-Credential / sig query parameters of presigned URLs.
std::string redact(std::string_view text);

// A URL as logs and rows may show it: userinfo, query and fragment removed
// ("https://u:p@h:8443/a?sig=x#f" -> "https://h:8443/a"). Works on any text: what follows the
// first '?' or '#' is dropped, and so is the userinfo of a "scheme://" authority.
std::string url_without_secrets(std::string_view url);

// A JSON text (a job payload about to be stored in a row) with url_without_secrets applied to
// every string value that starts with http:// or https://: a download's presigned or
// password-carrying URL is not kept in PostgreSQL. Text without "://" is returned as it is, and so
// is text that is not JSON (the caller decides what to store then).
std::string redact_payload_urls(std::string_view json);

}  // namespace wharf
