// A blocking HTTP/1.1 exchange with a server on 127.0.0.1, for tests of wharf's own endpoints.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace wharf::test {

struct http_reply {
    int status = 0;  // 0: nothing answered
    std::string body;
    std::map<std::string, std::string> headers;  // as the server spelled them
};

http_reply http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::map<std::string, std::string>& headers = {}, const std::string& body = {});

}  // namespace wharf::test
