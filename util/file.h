// Whole-file reads. Two kinds of file:
//  - read_file: the trusted side's own inputs (configs, prompt templates, masker sources the user
//    names, shipped files). Symlinks are followed, as a user expects.
//  - read_regular_file: files an untrusted process could have planted or swapped (the compile
//    cache). A final symlink is not followed, a FIFO never blocks the reader, anything but a
//    regular file is refused and the size is capped.
// Both read to the end of the file rather than trusting its reported size (files in /proc and
// /sys report 0 or 4096), and return a Status that names the path and the system's reason.
#pragma once

#include <cstddef>
#include <string>

#include "util/status.h"

namespace adrs {

Status read_file(const std::string& path, std::string* out);

Status read_regular_file(const std::string& path, size_t max_bytes, std::string* out);

}  // namespace adrs
