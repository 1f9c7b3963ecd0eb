// See wharf/storage/content.hpp.
#include "wharf/storage/content.hpp"

#include "blocking.hpp"

#include "wharf/storage/error.hpp"
#include "wharf/storage/gzip.hpp"
#include "wharf/storage/sha256.hpp"

#include <fstream>
#include <system_error>
#include <vector>

namespace wharf::storage {
namespace {

struct decoded {
    std::uint64_t size = 0;
    std::string sha256;
};

// Decodes the gzip file `path` into a file beside it and renames that over it. Blocking.
decoded gunzip_in_place(const std::filesystem::path& path, std::uint64_t max_decoded) {
    const auto temp = path.parent_path() / (".wharf-decode-" + path.filename().string());
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error(errc::permanent, "cannot read " + path.string());
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw error(errc::permanent, "cannot write " + temp.string());
    sha256 hash;
    try {
        gzip_decoder decoder(max_decoded, [&](std::span<const char> bytes) {
            hash.update(bytes);
            out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            if (!out) throw error(errc::permanent, "cannot write " + temp.string());
        });
        std::vector<char> buffer(1u << 20);
        while (in) {
            in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
            const auto n = static_cast<std::size_t>(in.gcount());
            if (n) decoder.feed(std::span<const char>(buffer.data(), n));
        }
        if (!in.eof()) throw error(errc::permanent, "cannot read " + path.string());
        decoder.finish();
        out.close();
        if (!out) throw error(errc::permanent, "cannot write " + temp.string());
        std::error_code ec;
        std::filesystem::rename(temp, path, ec);
        if (ec) throw error(errc::permanent, "cannot rename " + temp.string() + ": " + ec.message());
        return decoded{decoder.decoded(), hash.finish_hex()};
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        throw;
    }
}

}  // namespace

bool is_encoded(const std::optional<std::string>& content_encoding) noexcept {
    return content_encoding && !content_encoding->empty() && *content_encoding != "identity";
}

boost::asio::awaitable<object_info> get_content(provider& p, std::string key, std::filesystem::path destination,
                                                std::uint64_t max_decoded) {
    auto getting = p.get_to_file(key, destination);
    object_info info = co_await std::move(getting);
    if (!is_encoded(info.content_encoding)) co_return info;
    std::exception_ptr failure;
    try {
        if (*info.content_encoding != "gzip")
            throw error(errc::permanent, "'" + key + "' is stored with content encoding '" +
                                             info.content_encoding->substr(0, 32) + "', which wharf does not decode");
        auto decoding = detail::offload([&] { return gunzip_in_place(destination, max_decoded); });
        const decoded d = co_await std::move(decoding);
        info.size = d.size;
        info.sha256 = d.sha256;
    } catch (const error& e) {
        failure = std::make_exception_ptr(error(e.code(), "get '" + key + "': " + e.what()));
    }
    if (failure) {
        std::error_code ignored;
        std::filesystem::remove(destination, ignored);
        std::rethrow_exception(failure);
    }
    co_return info;
}

}  // namespace wharf::storage
