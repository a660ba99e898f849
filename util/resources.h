// Where adrs finds what it ships, relative to its own executable, so that a build tree and an
// installed tree work from any directory and nothing depends on the source checkout's path.
//
//   build tree:  <build>/adrs, <build>/adrs-worker, <build>/share/adrs/ (links CMake makes to the
//                source folders masker_template/, prompts/, workloads/)
//   installed:   <prefix>/bin/adrs, <prefix>/libexec/adrs/adrs-worker,
//                <prefix>/share/adrs/{masker_template,prompts,workloads}
//
// $ADRS_HOME, when set, names a folder that holds masker_template/, prompts/ and workloads/ and
// wins over both. None of these folders is ever writable by candidate code.
#pragma once

#include <string>

namespace adrs {

// The folder holding masker_template/, prompts/ and workloads/ (see above). When none is found,
// the build-tree location, so that a message naming it points where the files were expected.
std::string data_dir();

// The masker worker binary beside adrs (build tree) or in <prefix>/libexec/adrs (installed).
std::string worker_binary();

}  // namespace adrs
