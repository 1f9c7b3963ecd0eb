// Azure Blob Batch, sans I/O: the multipart/mixed body of up to 256 Delete Blob subrequests (each
// signed on its own) and the parsing of the multipart/mixed reply into one status per
// subrequest. The provider (azure.cpp) sends it as POST <container>?restype=container&comp=batch.
// Format: https://learn.microsoft.com/rest/api/storageservices/blob-batch (OData batch syntax).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::storage::azure {

// The most subrequests one batch may carry.
inline constexpr std::size_t max_batch_subrequests = 256;

struct batch_subrequest {
    std::string method;  // "DELETE"
    std::string path;    // as sent, percent-encoded: "/container/dir/blob"
    std::vector<std::pair<std::string, std::string>> headers;  // x-ms-date, Authorization, ...
};

// The request body: each subrequest as an application/http part with Content-ID = its index,
// CRLF line endings, closed by "--<boundary>--". The request's Content-Type is
// "multipart/mixed; boundary=<boundary>".
std::string batch_body(std::string_view boundary, const std::vector<batch_subrequest>& subrequests);

struct batch_subresponse {
    std::optional<std::size_t> content_id;  // none: the service refused the batch as a whole
    unsigned status = 0;
    std::string error_code;  // x-ms-error-code, else <Code> of the body
    std::string message;     // the status line's reason, or <Message> (first line)
};

// Parses the reply body, given the reply's Content-Type. Throws storage::error(permanent) with a
// readable reason when the reply is not a multipart/mixed batch reply.
std::vector<batch_subresponse> parse_batch_reply(std::string_view content_type, std::string_view body);

}  // namespace wharf::storage::azure
