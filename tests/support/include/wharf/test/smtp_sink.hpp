// An SMTP sink for integration tests: aiosmtpd (Debian's python3-aiosmtpd, run by /usr/bin/python3)
// on a free loopback port, saving every message it accepts as one file of a maildir, so a test can
// count and read what was sent. Optionally offers STARTTLS with a self-signed certificate.
#pragma once

#include "wharf/test/process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace wharf::test {

struct smtp_sink_options {
    // Offer STARTTLS with a fresh self-signed certificate for 127.0.0.1 (see ca_file()). The sink
    // then refuses mail until the client has started TLS.
    bool starttls = false;
};

class smtp_sink {
public:
    explicit smtp_sink(smtp_sink_options options = {});
    ~smtp_sink();
    smtp_sink(const smtp_sink&) = delete;
    smtp_sink& operator=(const smtp_sink&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url() const;  // smtp://127.0.0.1:<port>
    // The certificate the sink presents (PEM), to trust in the client; empty without STARTTLS.
    const std::filesystem::path& ca_file() const noexcept { return cert_; }

    // Stops the server (the port then refuses connections) and starts it again on the same port
    // and maildir: for tests of failed deliveries.
    void stop();
    void start();

    // The messages received so far, oldest first (raw RFC 5322 text).
    std::vector<std::string> messages() const;
    std::size_t count() const;
    // Waits until at least n messages arrived; returns the count (less than n on timeout).
    std::size_t wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

private:
    smtp_sink_options options_;
    temp_dir dir_;
    std::filesystem::path maildir_, cert_, key_, log_;
    std::uint16_t port_ = 0;
    std::unique_ptr<process> proc_;
};

}  // namespace wharf::test
