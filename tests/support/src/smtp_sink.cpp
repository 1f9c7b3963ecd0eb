// smtp_sink: aiosmtpd with the Mailbox handler on loopback.
#include "wharf/test/smtp_sink.hpp"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wharf::test {
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

smtp_sink::smtp_sink(smtp_sink_options options)
    : options_(options), dir_("wharf-smtp"), maildir_(dir_.path() / "mail"), log_(dir_.path() / "aiosmtpd.log") {
    if (options_.starttls) {
        cert_ = dir_.path() / "cert.pem";
        key_ = dir_.path() / "key.pem";
        const auto r = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                            "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key_.string(),
                            "-out", cert_.string()});
        if (r.status != 0) throw std::runtime_error("smtp_sink: openssl req failed: " + r.output);
    }
    port_ = free_port();
    start();
}

smtp_sink::~smtp_sink() { stop(); }

std::string smtp_sink::url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

void smtp_sink::start() {
    if (proc_) return;
    std::vector<std::string> argv = {"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox",
                                     "-l", "127.0.0.1:" + std::to_string(port_)};
    if (options_.starttls) argv.insert(argv.end(), {"--tlscert", cert_.string(), "--tlskey", key_.string()});
    argv.push_back(maildir_.string());  // the handler's argument: where messages go
    process_options opts;
    opts.output = log_;
    proc_ = std::make_unique<process>(argv, opts);
    try {
        wait_for_port(port_, std::chrono::seconds(20));
    } catch (const std::exception& e) {
        proc_.reset();
        throw std::runtime_error(std::string("smtp_sink: aiosmtpd did not start: ") + e.what() + "\n" + read_file(log_));
    }
}

void smtp_sink::stop() {
    if (!proc_) return;
    proc_->signal(SIGTERM);
    if (!proc_->wait(std::chrono::seconds(5))) proc_->kill_hard();
    proc_.reset();
}

std::vector<std::string> smtp_sink::messages() const {
    std::vector<std::pair<fs::file_time_type, fs::path>> files;
    std::error_code ec;
    for (const auto* sub : {"new", "cur"}) {
        for (const auto& entry : fs::directory_iterator(maildir_ / sub, ec))
            if (entry.is_regular_file()) files.emplace_back(entry.last_write_time(), entry.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<std::string> out;
    for (const auto& [time, path] : files) out.push_back(read_file(path));
    return out;
}

std::size_t smtp_sink::count() const { return messages().size(); }

std::size_t smtp_sink::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto c = count();
        if (c >= n || std::chrono::steady_clock::now() >= deadline) return c;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace wharf::test
