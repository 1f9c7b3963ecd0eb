// The moto fixture (see moto_server.hpp).
#include "wharf/test/moto_server.hpp"

#include <chrono>
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
