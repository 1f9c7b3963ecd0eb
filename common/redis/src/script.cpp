// script: a Lua source and its SHA1 (the EVALSHA key), hashed once with OpenSSL.
#include "wharf/redis/connection.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace wharf::redis {

script::script(std::string source) : source_(std::move(source)) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(source_.data(), source_.size(), digest, &size, EVP_sha1(), nullptr) != 1)
        throw std::runtime_error("SHA1 of a Lua script failed (OpenSSL)");
    static constexpr char hex[] = "0123456789abcdef";
    sha1_.reserve(size * 2);
    for (unsigned int i = 0; i < size; ++i) {
        sha1_ += hex[digest[i] >> 4];
        sha1_ += hex[digest[i] & 15];
    }
}

}  // namespace wharf::redis
