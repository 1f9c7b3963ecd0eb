// RESP2 framing without I/O: commands out (formatter), replies in (hiredis's redisReader).
#pragma once

#include "wharf/redis/reply.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

struct redisReader;

namespace wharf::redis::detail {

// Appends `args` as one RESP command (an array of bulk strings) to `out`. Byte for byte what
// hiredis's redisFormatCommandArgv produces (a unit test checks it), but written straight into
// the connection's reusable output buffer: no malloc/free/copy per command.
void append_command(std::string& out, const std::vector<std::string>& args);

// An incremental RESP2 parser: feed it bytes as they arrive, take whole replies out. Replies are
// built directly as redis::reply values (hiredis calls back into reply_builder), never as
// redisReply trees that would have to be converted and freed.
class resp_reader {
public:
    // Bytes buffered but not yet parsed into a reply may not exceed max_buffered (a size limit on
    // what a server can make us hold; Redis's own proto-max-bulk-len defaults to 512 MB).
    explicit resp_reader(std::size_t max_buffered = std::size_t{1} << 30);
    ~resp_reader();
    resp_reader(const resp_reader&) = delete;
    resp_reader& operator=(const resp_reader&) = delete;

    // Throws redis::error(protocol) when the limit is exceeded or the reader is in error.
    void feed(const char* data, std::size_t size);
    // The next complete reply, or nullopt when more bytes are needed. Throws redis::error(protocol)
    // on malformed input; the reader is unusable afterwards (the connection must be dropped).
    std::optional<reply> next();
    // Bytes fed but not consumed yet.
    std::size_t buffered() const noexcept;

private:
    redisReader* reader_;
    std::size_t max_buffered_;
};

}  // namespace wharf::redis::detail
