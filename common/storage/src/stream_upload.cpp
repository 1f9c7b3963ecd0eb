// Stream uploads to any provider (see stream_upload.hpp).
#include "wharf/storage/stream_upload.hpp"

namespace wharf::storage {

boost::asio::awaitable<put_result> upload_stream(provider& target, std::string key, stream_reader read,
                                                 put_options options) {
    if (auto reason = invalid_key_reason(key)) throw error(errc::invalid_key, *reason);
    std::unique_ptr<part_sink> sink = target.stream_sink(key);
    if (!sink) throw error(errc::permanent, "provider '" + target.name() + "' takes no streams");
    if (sink->sequential_parts()) options.parts_in_flight = 1;
    auto upload = upload_stream_in_parts(*sink, std::move(key), std::move(read), std::move(options));
    co_return co_await std::move(upload);
}

}  // namespace wharf::storage
