# Project-wide compile settings shared by every wharf target.

# wharf_warnings: the warning set every target builds with.
add_library(wharf_warnings INTERFACE)
target_compile_options(wharf_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)

if(WHARF_SANITIZE AND WHARF_TSAN)
  message(FATAL_ERROR "WHARF_SANITIZE and WHARF_TSAN are exclusive: ThreadSanitizer cannot be "
                      "combined with AddressSanitizer; use one build directory for each")
endif()

if(WHARF_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "WHARF_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: configure with "
                        "CXX=clang++-14 in an empty build directory (tests/fuzz/run.sh does)")
  endif()
  # Coverage instrumentation for libFuzzer everywhere; only the fuzz targets link its main
  # (-fsanitize=fuzzer, tests/fuzz). UB aborts, so libFuzzer sees it as a crash.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(WHARF_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# ThreadSanitizer: every data race between the I/O threads (--threads > 1), the offload pool and
# the job state writer. The uninstrumented system libraries (libpq, hiredis, OpenSSL, libcurl) are
# only seen through their calls; tests/tsan.supp names the few of their internals it misreads.
# -Wno-tsan: GCC warns that it cannot instrument std::atomic_thread_fence, which Asio's
# std_fenced_block issues around every handler call. Those fences are redundant there (handlers
# reach another thread only through the scheduler's and strands' mutex-protected queues, which
# TSan does see), so the warning is noise on every file that includes Asio.
if(WHARF_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
endif()

# Compressed debug sections in what is linked: every test and tool links the wharf libraries
# statically with their debug info (Asio's and Beast's templates make most of it), 100-160 MB an
# executable, 6 GB a build tree, 20 GB for CI's four trees. zlib makes that a third. Link-time only,
# so compiled objects (and ccache's entries) stay as they are; gdb and the sanitizers' symbolizer
# read compressed sections.
include(CheckLinkerFlag)
check_linker_flag(CXX "-Wl,--compress-debug-sections=zlib" WHARF_LINKER_COMPRESSES_DEBUG)
if(WHARF_LINKER_COMPRESSES_DEBUG)
  add_link_options(-Wl,--compress-debug-sections=zlib)
endif()

# wharf_library(name SOURCES ... [DEPS ...]): a static library whose public headers live in
# <dir>/include and whose sources live in <dir>/src.
function(wharf_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                     PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE wharf_warnings)
endfunction()
