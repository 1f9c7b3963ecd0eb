// The S3 reply extractor: elements, entities, CDATA, namespaces, malformed input.
#include "wharf/storage/s3/xml.hpp"

#include <gtest/gtest.h>

using namespace wharf::storage::s3;

TEST(s3_xml, finds_elements_in_order_and_ignores_prolog_and_attributes) {
    const std::string doc = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
  <Contents><Key>a</Key><Size>1</Size></Contents>
  <Contents ><Key>b</Key><Size>22</Size></Contents>
</ListBucketResult>)";
    auto contents = xml::elements(doc, "Contents");
    ASSERT_EQ(contents.size(), 2u);
    EXPECT_EQ(xml::text(contents[1], "Size"), "22");
    EXPECT_EQ(xml::root_name(doc), "ListBucketResult");
    EXPECT_EQ(xml::text(doc, "Name"), "b");
    EXPECT_FALSE(xml::text(doc, "Nope"));
}

TEST(s3_xml, does_not_confuse_a_name_with_its_prefix) {
    const std::string doc = "<R><KeyMarker>m</KeyMarker><Key>k</Key></R>";
    EXPECT_EQ(xml::text(doc, "Key"), "k");
    EXPECT_EQ(xml::text(doc, "KeyMarker"), "m");
}

TEST(s3_xml, decodes_entities_and_numeric_references) {
    EXPECT_EQ(xml::decode("&quot;abc&quot; &amp; &lt;x&gt; &apos;"), "\"abc\" & <x> '");
    EXPECT_EQ(xml::decode("&#233;&#xE9;&#x1F600;"), "\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_EQ(xml::decode("a & b &bogus; &#xZZ;"), "a & b &bogus; &#xZZ;");
    EXPECT_EQ(xml::text("<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>", "ETag"),
              "\"9b2cf535f27731c974343645a3985328\"");
}

TEST(s3_xml, cdata_and_comments_and_namespaced_tags) {
    EXPECT_EQ(xml::text("<a><!-- <Key>no</Key> --><Key><![CDATA[x<y&z]]></Key></a>", "Key"), "x<y&z");
    EXPECT_EQ(xml::text("<s3:R><s3:Key>k</s3:Key></s3:R>", "Key"), "k");
}

TEST(s3_xml, self_closing_and_malformed) {
    EXPECT_EQ(xml::text("<R><Prefix/></R>", "Prefix"), "");
    EXPECT_FALSE(xml::text("<R><Key>unterminated", "Key"));
    EXPECT_FALSE(xml::text("", "Key"));
    EXPECT_EQ(xml::root_name("not xml"), "");
}

TEST(s3_xml, escape_round_trips) {
    const std::string s = "a&b<c>\"d'e";
    EXPECT_EQ(xml::escape(s), "a&amp;b&lt;c&gt;&quot;d&apos;e");
    EXPECT_EQ(xml::decode(xml::escape(s)), s);
}
