// wharf's SigV4 signer against botocore's (S3SigV4Auth / S3SigV4QueryAuth) on hundreds of
// generated keys, queries and headers at fixed timestamps: same canonical request, same signature.
#include "wharf/storage/s3/sigv4.hpp"
#include "wharf/test/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>

using namespace wharf::storage::sigv4;
using nlohmann::json;

namespace {

// Key material: ASCII specials, spaces, unicode (2-, 3- and 4-byte UTF-8), and '/'.
const std::vector<std::string> pieces = {"a", "Z", "0", "-", "_", ".", "~", " ", "+", "=", "&", "%", "$", "@", ":", ",",
                                         ";", "!", "*", "'", "(", ")", "[", "]", "#", "?", "/", "é", "ü", "日本", "😀",
                                         "A B", "%20", "x y"};

std::string random_text(std::mt19937& rng, std::size_t min_len, std::size_t max_len, bool allow_slash) {
    std::uniform_int_distribution<std::size_t> len(min_len, max_len);
    std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
    std::string s;
    for (std::size_t n = len(rng), i = 0; i < n; ++i) {
        const auto& p = pieces[pick(rng)];
        if (!allow_slash && p == "/") continue;
        s += p;
    }
    return s;
}

std::string printable(std::mt19937& rng, std::size_t max_len) {
    std::uniform_int_distribution<int> ch(0x20, 0x7e);
    std::uniform_int_distribution<std::size_t> len(1, max_len);
    std::string s;
    for (std::size_t n = len(rng), i = 0; i < n; ++i) s.push_back(static_cast<char>(ch(rng)));
    // Leading/trailing and repeated spaces are part of what the canonical form normalises.
    if (rng() % 3 == 0) s = "  " + s + "   ";
    if (rng() % 3 == 0) s.insert(s.size() / 2, "    ");
    return s;
}

}  // namespace

TEST(sigv4_botocore, hundreds_of_generated_requests_sign_identically) {
    std::mt19937 rng(20261121);
    json cases = json::array();
    struct mine {
        std::string canonical, signature, query;
    };
    std::vector<mine> ours;
    const std::vector<std::string> methods = {"GET", "PUT", "POST", "DELETE", "HEAD"};
    for (int i = 0; i < 400; ++i) {
        const bool query_mode = i % 4 == 3;
        const std::string key = random_text(rng, 1, 8, true);
        param_list query;
        std::set<std::string> names;
        for (std::size_t n = rng() % 4; n > 0; --n) {
            std::string k = random_text(rng, 1, 3, true);
            if (k.starts_with("X-Amz") || !names.insert(k).second) continue;  // botocore keeps one value per name
            query.emplace_back(k, rng() % 4 == 0 ? "" : random_text(rng, 1, 5, true));
        }
        param_list headers;
        std::set<std::string> header_names{"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token",
                                           "authorization", "user-agent", "expect", "x-amzn-trace-id"};
        if (!query_mode) {
            for (std::size_t n = rng() % 4; n > 0; --n) {
                std::string name = "x-amz-meta-" + std::to_string(rng() % 1000);
                if (rng() % 2) name = "X-Custom-" + std::to_string(rng() % 100);
                std::string lower = name;
                for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                if (!header_names.insert(lower).second) continue;
                headers.emplace_back(name, printable(rng, 20));
            }
            if (rng() % 3 == 0) headers.emplace_back("Content-Type", "application/octet-stream");
            if (rng() % 3 == 0) headers.emplace_back("Range", "bytes=0-" + std::to_string(rng() % 100000));
        }
        const std::string host = rng() % 2 ? "127.0.0.1:9000" : "bucket.s3.eu-west-2.amazonaws.com";
        const std::string region = rng() % 2 ? "us-east-1" : "eu-west-2";
        const std::string token = rng() % 5 == 0 ? "FQoG/session+token==" : "";
        const std::string payload = rng() % 2 ? std::string(unsigned_payload) : sha256_hex(std::to_string(i));
        const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1'600'000'000 + i * 86'413));
        const std::string ts = amz_date(t);
        const std::int64_t expires = 1 + static_cast<std::int64_t>(rng() % 604800);
        const std::string method = methods[rng() % methods.size()];

        signer s({"AKIDEXAMPLE" + std::to_string(i % 7), "secret/" + std::to_string(i) + "+KEY", token}, {region, "s3"});
        request_to_sign r;
        r.method = method;
        r.canonical_uri = "/" + uri_encode(key, true);
        r.query = query;
        r.headers = headers;
        r.headers.emplace_back("host", host);
        r.payload_hash = payload;
        mine m;
        signature_parts parts;
        if (query_mode) {
            m.query = s.presign_query(r, t, std::chrono::seconds(expires), &parts);
        } else {
            param_list out;
            parts = s.sign_headers(r, t, out);
        }
        m.canonical = parts.canonical_request;
        m.signature = parts.signature;
        ours.push_back(std::move(m));

        json q = json::array(), h = json::array();
        for (const auto& [k, v] : query) q.push_back({k, v});
        for (const auto& [k, v] : headers) h.push_back({k, v});
        cases.push_back({{"mode", query_mode ? "query" : "header"}, {"method", method}, {"host", host}, {"scheme", "http"},
                         {"key", key}, {"query", q}, {"headers", h}, {"payload_hash", payload}, {"expires", expires},
                         {"region", region}, {"access_key", s.creds().access_key}, {"secret_key", s.creds().secret_key},
                         {"token", token}, {"timestamp", ts}});
    }

    wharf::test::temp_dir dir("wharf-sigv4");
    const auto input = dir.path() / "cases.json";
    std::ofstream(input) << json{{"cases", cases}}.dump();
    const auto script = wharf::test::source_dir() / "tests/integration/s3/botocore_sign.py";
    wharf::test::process_options o;
    o.output = dir.path() / "out.json";
    // run() returns combined output; botocore prints nothing else on success.
    auto res = wharf::test::run({"python3", script.string(), input.string()}, {}, std::chrono::seconds(120));
    ASSERT_EQ(res.status, 0) << res.output;
    const auto out = json::parse(res.output.substr(res.output.find('{')));
    const auto& results = out.at("results");
    ASSERT_EQ(results.size(), ours.size());
    int query_cases = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
        SCOPED_TRACE("case " + std::to_string(i) + ": " + cases[i].dump());
        EXPECT_EQ(ours[i].canonical, results[i].at("canonical_request").get<std::string>());
        EXPECT_EQ(ours[i].signature, results[i].at("signature").get<std::string>());
        if (!ours[i].query.empty()) {
            ++query_cases;
            const std::string url = results[i].at("url").get<std::string>();
            // botocore's URL keeps the operation parameters first; every one of our parameters,
            // the signature included, must be in it.
            std::string rest = ours[i].query;
            for (std::size_t start = 0; start < rest.size();) {
                auto amp = rest.find('&', start);
                std::string param = rest.substr(start, amp - start);
                EXPECT_NE(url.find(param), std::string::npos) << param << " not in " << url;
                if (amp == std::string::npos) break;
                start = amp + 1;
            }
        }
    }
    EXPECT_EQ(query_cases, 100);
}
