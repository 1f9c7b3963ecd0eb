// Uploading a stream of unknown length (a pg_dump pipe, an archive being written) to any
// provider, with no temp file: the stream engine (multipart.hpp) over the provider's part_sink --
// S3 multipart, Azure blocks, or the local provider's in-order temp file.
#pragma once

#include "wharf/storage/multipart.hpp"
#include "wharf/storage/provider.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace wharf::storage {

// Throws storage::error as the engine does; std::invalid_argument for a provider kind that has no
// part sink.
boost::asio::awaitable<put_result> upload_stream(provider& target, std::string key, stream_reader read,
                                                 put_options options);

}  // namespace wharf::storage
