// Azurite (the Azure Blob emulator, from tests/servers/node_modules) on a free loopback port,
// in memory, for the lifetime of the object.
#pragma once

#include "wharf/http/client.hpp"
#include "wharf/test/process.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wharf::test {

class azurite_server {
public:
    // Starts Azurite and waits until it accepts connections. Throws when node or Azurite is
    // missing (run deploy/install-deps.sh: it runs `npm ci` in tests/servers).
    azurite_server();
    ~azurite_server();

    std::uint16_t port() const noexcept { return port_; }
    // The emulator's well-known account.
    static constexpr const char* account = "devstoreaccount1";
    static constexpr const char* key =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    // "http://127.0.0.1:<port>/devstoreaccount1" (path-style, as emulators are addressed).
    std::string endpoint() const;
    std::string endpoint(std::uint16_t via_port) const;  // the same through a proxy

    // Get Block List (blocklisttype=all) of a blob, signed with the well-known key; blocking.
    // Tells whether an upload left blocks behind.
    struct block_list {
        bool found = false;  // false: 404, no blob and no uncommitted blocks
        std::size_t committed = 0, uncommitted = 0;
    };
    block_list blocks(const std::string& container, const std::string& blob) const;

    // Lease Blob (acquire, infinite), signed with the well-known key; blocking. A leased blob
    // refuses a Delete Blob that names no lease (412 LeaseIdMissing).
    void acquire_lease(const std::string& container, const std::string& blob) const;

    // Get Blob Properties' x-ms-access-tier, signed with the well-known key; blocking. nullopt when
    // the blob does not exist.
    std::optional<std::string> access_tier(const std::string& container, const std::string& blob) const;

private:
    // One request signed with the well-known key, on a private io_context; blocking.
    http::response signed_request(http::verb method, const std::string& path,
                                  std::vector<std::pair<std::string, std::string>> query, http::header_list headers) const;

    std::uint16_t port_ = 0;
    std::unique_ptr<temp_dir> dir_;
    std::unique_ptr<process> process_;
};

}  // namespace wharf::test
