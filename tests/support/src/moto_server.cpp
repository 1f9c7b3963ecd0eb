// The moto fixture (see moto_server.hpp).
#include "wharf/test/moto_server.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace wharf::test {

moto_server::moto_server() : dir_("wharf-moto") {
    port_ = free_port();
    process_options o;
    // moto spools request bodies over 5 MiB to $TMPDIR: keep them in the fixture's folder.
    o.env["TMPDIR"] = dir_.path().string();
    o.output = dir_.path() / "moto.log";
    server_.emplace(std::vector<std::string>{"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", std::to_string(port_)},
                    std::move(o));
    wait_for_port(port_, std::chrono::seconds(60));
}

moto_server::~moto_server() = default;  // process kills its group; temp_dir removes the folder

void moto_server::create_bucket(const std::string& name) const {
    auto r = run({"curl", "-sS", "-f", "-X", "PUT", endpoint() + "/" + name});
    if (r.status != 0) throw std::runtime_error("creating bucket " + name + " failed: " + r.output);
}

namespace {

// The text of every <tag>...</tag> in an XML reply, in order.
std::vector<std::string> xml_values(const std::string& xml, const std::string& tag) {
    std::vector<std::string> out;
    const std::string open = "<" + tag + ">", close = "</" + tag + ">";
    for (auto at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
        const auto end = xml.find(close, at);
        if (end == std::string::npos) break;
        out.push_back(xml.substr(at + open.size(), end - at - open.size()));
        at = end + close.size();
    }
    return out;
}

}  // namespace

void moto_server::put_object(const std::string& bucket, const std::string& key, std::uint64_t bytes) const {
    const auto body = dir_.path() / "object";
    std::ofstream(body, std::ios::binary) << std::string(bytes, 'o');
    const auto sent = run({"curl", "-sS", "-f", "-o", "/dev/null", "-H", "Expect:", "-T", body.string(),
                           endpoint() + "/" + bucket + "/" + key});
    std::filesystem::remove(body);
    if (sent.status != 0) throw std::runtime_error("putting " + key + " failed: " + sent.output);
}

std::string moto_server::begin_upload(const std::string& bucket, const std::string& key,
                                      std::uint64_t first_part_bytes) const {
    const std::string url = endpoint() + "/" + bucket + "/" + key;
    const auto created = run({"curl", "-sS", "-f", "-X", "POST", url + "?uploads"});
    const auto ids = xml_values(created.output, "UploadId");
    if (created.status != 0 || ids.size() != 1) throw std::runtime_error("starting an upload of " + key + " failed: " + created.output);
    if (first_part_bytes > 0) {
        const auto part = dir_.path() / ("part-" + ids[0]);
        std::ofstream(part, std::ios::binary) << std::string(first_part_bytes, 'p');
        // -T: a plain PUT of the file ("Expect:" off: moto does not answer 100-continue).
        const auto sent = run({"curl", "-sS", "-f", "-o", "/dev/null", "-H", "Expect:", "-T", part.string(),
                               url + "?partNumber=1&uploadId=" + ids[0]});
        std::filesystem::remove(part);
        if (sent.status != 0) throw std::runtime_error("sending part 1 of " + key + " failed: " + sent.output);
    }
    return ids[0];
}

std::vector<std::string> moto_server::open_uploads(const std::string& bucket) const {
    const auto listed = run({"curl", "-sS", "-f", endpoint() + "/" + bucket + "?uploads"});
    if (listed.status != 0 || listed.output.find("<ListMultipartUploadsResult") == std::string::npos)
        throw std::runtime_error("listing the uploads of " + bucket + " failed: " + listed.output);
    return xml_values(listed.output, "UploadId");
}

std::vector<std::pair<std::string, std::string>> moto_server::open_uploads_by_key(const std::string& bucket) const {
    const auto listed = run({"curl", "-sS", "-f", endpoint() + "/" + bucket + "?uploads"});
    if (listed.status != 0 || listed.output.find("<ListMultipartUploadsResult") == std::string::npos)
        throw std::runtime_error("listing the uploads of " + bucket + " failed: " + listed.output);
    // <Key> and <UploadId> come once per <Upload>, in order (the markers are other tags).
    const auto keys = xml_values(listed.output, "Key"), ids = xml_values(listed.output, "UploadId");
    if (keys.size() != ids.size()) throw std::runtime_error("unexpected ListMultipartUploads reply: " + listed.output);
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t i = 0; i < ids.size(); ++i) out.emplace_back(keys[i], ids[i]);
    return out;
}

std::vector<moto_server::listed_object> moto_server::list_objects(const std::string& bucket) const {
    // boto3, not wharf's S3 client: the listing is the independent witness of what is stored.
    const std::string script = R"(
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x",
                  aws_secret_access_key="x")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]):
    for o in page.get("Contents", []):
        print("OBJ", o["Size"], o["Key"])
print("END")
)";
    const auto r = run({"python3", "-c", script, endpoint(), bucket}, {}, std::chrono::seconds(120));
    if (r.status != 0 || r.output.find("END") == std::string::npos)
        throw std::runtime_error("listing the objects of " + bucket + " failed: " + r.output);
    std::vector<listed_object> out;
    std::istringstream in(r.output);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("OBJ ")) continue;  // botocore may print warnings
        std::istringstream words(line.substr(4));
        listed_object o;
        words >> o.size;
        std::getline(words >> std::ws, o.key);
        out.push_back(std::move(o));
    }
    return out;
}

moto_server::access_key moto_server::enable_iam() const {
    // reset-auth with "3": the next three requests (the IAM calls below) go unchecked, every
    // later one must be signed by a known key.
    const std::string script = R"(
import json, sys, urllib.request, boto3
ep = sys.argv[1]
urllib.request.urlopen(urllib.request.Request(ep + "/moto-api/reset-auth", data=b"3", method="POST",
                                              headers={"Content-Type": "text/plain"})).read()
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
iam.create_user(UserName="wharf")
iam.put_user_policy(UserName="wharf", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="wharf")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
)";
    auto r = run({"python3", "-c", script, endpoint()}, {}, std::chrono::seconds(60));
    if (r.status != 0) throw std::runtime_error("enabling moto IAM mode failed: " + r.output);
    std::istringstream in(r.output);
    access_key key;
    // The last line holds the key (botocore may print warnings before it).
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    std::istringstream words(last);
    words >> key.id >> key.secret;
    if (key.id.empty() || key.secret.empty()) throw std::runtime_error("no access key from moto: " + r.output);
    return key;
}

}  // namespace wharf::test
