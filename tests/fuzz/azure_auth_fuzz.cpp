// Azure SharedKey canonicalisation and SAS with fuzzed method, path, query and headers: the
// string to sign and the Authorization header are built from any bytes without failing.
#include "fuzz_support.hpp"

#include "wharf/storage/azure_auth.hpp"

#include <fuzzer/FuzzedDataProvider.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace az = wharf::storage::azure;
    FuzzedDataProvider in(data, size);
    az::shared_key_request r;
    r.method = in.ConsumeRandomLengthString(16);
    r.path = in.ConsumeRandomLengthString(256);
    const auto pairs = [&](std::vector<std::pair<std::string, std::string>>& out) {
        const int n = in.ConsumeIntegralInRange(0, 8);
        for (int i = 0; i < n; ++i) {
            auto name = in.ConsumeRandomLengthString(32);
            out.emplace_back(std::move(name), in.ConsumeRandomLengthString(64));
        }
    };
    pairs(r.query);
    pairs(r.headers);
    const std::string account = in.ConsumeRandomLengthString(24);
    const std::string key = in.ConsumeRandomLengthString(64);

    const std::string sts = az::shared_key_string_to_sign(account, r);
    WHARF_FUZZ_CHECK(sts.starts_with(r.method + "\n"));
    const std::string auth = az::shared_key_authorization(account, key, r);
    WHARF_FUZZ_CHECK(auth.starts_with("SharedKey " + account + ":"));

    az::blob_sas sas;
    sas.account = account;
    sas.container = in.ConsumeRandomLengthString(32);
    sas.blob = in.ConsumeRandomLengthString(128);
    sas.permissions = in.ConsumeRandomLengthString(8);
    sas.start = std::chrono::system_clock::time_point{} +
                std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(0, 4102444800));
    sas.expiry = sas.start + std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(0, 604800));
    (void)az::sas_query(sas, key);
    (void)az::uri_encode(in.ConsumeRemainingBytesAsString(), true);
    return 0;
}
