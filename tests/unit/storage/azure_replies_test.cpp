// Azure Blob reply parsing, offline: a List Blobs page as Azurite and the service send it, sizes
// that are not byte counts (stoull threw std::invalid_argument or wrapped "-1" before the parser
// was split out for tests/fuzz/azure_xml_fuzz), and dates outside the clock's range.
#include "wharf/storage/azure_replies.hpp"
#include "wharf/storage/error.hpp"

#include <gtest/gtest.h>

using namespace wharf::storage;
using namespace wharf::storage::azure;

namespace {

const std::string page_xml =
    R"(<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="media"><Blobs>)"
    R"(<Blob><Name>videos/a&amp;b.mp4</Name><Properties><Last-Modified>Wed, 12 Oct 2022 17:50:31 GMT</Last-Modified>)"
    R"(<Etag>"0x8DAAC6B8C2A1D2E"</Etag><Content-Length>12582912</Content-Length></Properties>)"
    R"(<Metadata><sha256>9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08</sha256></Metadata></Blob>)"
    R"(<Blob><Name>empty</Name><Properties><Content-Length>0</Content-Length></Properties></Blob>)"
    R"(</Blobs><NextMarker>2!80!MDAw</NextMarker></EnumerationResults>)";

std::string list_with_length(const std::string& length) {
    return "<EnumerationResults><Blobs><Blob><Name>k</Name><Properties><Content-Length>" + length +
           "</Content-Length></Properties></Blob></Blobs></EnumerationResults>";
}

}  // namespace

TEST(azure_replies, a_list_blobs_page_gives_names_sizes_etags_dates_and_the_next_marker) {
    const auto page = parse_list_blobs(page_xml);
    ASSERT_EQ(page.blobs.size(), 2u);
    EXPECT_EQ(page.blobs[0].key, "videos/a&b.mp4");
    EXPECT_EQ(page.blobs[0].size, 12582912u);
    EXPECT_EQ(page.blobs[0].etag, "0x8DAAC6B8C2A1D2E");
    EXPECT_EQ(std::chrono::system_clock::to_time_t(page.blobs[0].last_modified), 1665597031);
    EXPECT_EQ(page.blobs[0].sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    EXPECT_EQ(page.blobs[1].size, 0u);
    EXPECT_FALSE(page.blobs[1].sha256);
    EXPECT_EQ(page.next_marker, "2!80!MDAw");
    EXPECT_FALSE(parse_list_blobs("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>").next_marker);
}

TEST(azure_replies, a_size_that_is_not_a_byte_count_is_a_permanent_storage_error) {
    for (const std::string bad : {"", "abc", "-1", "+5", " 5", "5 ", "18446744073709551616", "1e3"}) {
        try {
            (void)parse_list_blobs(list_with_length(bad));
            ADD_FAILURE() << "accepted Content-Length '" << bad << "'";
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::permanent) << bad;
            EXPECT_NE(std::string(e.what()).find("Content-Length"), std::string::npos) << e.what();
        }
    }
    EXPECT_EQ(parse_list_blobs(list_with_length("18446744073709551615")).blobs.at(0).size, 18446744073709551615u);
    EXPECT_THROW((void)parse_list_blobs("<Blobs><Blob><Properties/></Blob></Blobs>"), error);  // no name
}

TEST(azure_replies, size_headers) {
    EXPECT_EQ(parse_size("1234"), 1234u);
    EXPECT_FALSE(parse_size("-1"));
    EXPECT_FALSE(parse_size(""));
    EXPECT_EQ(content_range_total("bytes 0-99/1234"), 1234u);
    EXPECT_FALSE(content_range_total("bytes 0-99/*"));
    EXPECT_FALSE(content_range_total("bytes 0-99"));
}

// Found by tests/fuzz/azure_xml_fuzz: from_time_t overflowed for years outside 1677-2262.
TEST(azure_replies, dates_outside_the_clocks_range_read_as_unknown) {
    EXPECT_EQ(parse_http_date("Mon, 01 Jan 1000 00:00:00 GMT"), std::chrono::system_clock::time_point{});
    EXPECT_EQ(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), std::chrono::system_clock::time_point{});
    EXPECT_EQ(std::chrono::system_clock::to_time_t(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")), 784111777);
    EXPECT_EQ(strip_quotes("\"x\""), "x");
    EXPECT_EQ(strip_quotes("\""), "\"");
}
