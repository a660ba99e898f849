#include "util/table.h"

#include <algorithm>

namespace adrs {

std::string Table::render(const std::string& indent) const {
  std::vector<size_t> width(headers_.size(), 0);
  auto widen = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size() && c < width.size(); ++c) width[c] = std::max(width[c], cells[c].size());
  };
  widen(headers_);
  for (const auto& row : rows_) widen(row);
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = indent;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(width[c] - cell.size(), ' ');
      out += c == 0 ? cell + pad : pad + cell;
      if (c + 1 < width.size()) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers_);
  for (const auto& row : rows_) out += line(row);
  return out;
}

}  // namespace adrs
