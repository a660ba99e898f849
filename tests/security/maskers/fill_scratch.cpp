// Class 4: fills its scratch directory with 1 MB files (each under any per-file size limit) and
// then with empty ones, and reports how far it got: only a size- and inode-limited file system
// stops both.
#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "masker_api.h"

void select(const adrs::Row& row, adrs::Selection& out) {
  if (row.layer != 0 || row.head != 0 || row.step != 0) {
    out.add(0);
    return;
  }
  std::vector<char> chunk(1 << 20, 'x');
  long megabytes = 0;
  for (; megabytes < 4096; ++megabytes) {
    const int f = open(("/work/big" + std::to_string(megabytes)).c_str(), O_WRONLY | O_CREAT, 0600);
    const bool full = f < 0 || write(f, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size());
    if (f >= 0) close(f);
    if (full) break;
  }
  for (long i = 0; i <= megabytes; ++i) unlink(("/work/big" + std::to_string(i)).c_str());
  long files = 0;
  for (; files < 100000; ++files) {
    const int f = open(("/work/f" + std::to_string(files)).c_str(), O_WRONLY | O_CREAT, 0600);
    if (f < 0) break;
    close(f);
  }
  throw std::runtime_error("filled " + std::to_string(megabytes) + " MB and " + std::to_string(files) + " files");
}
