// Table: aligned plain-text tables for human output (every --json alternative prints JSON instead).
#pragma once

#include <string>
#include <vector>

namespace adrs {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // Columns after the first are right-aligned (numbers); the first is left-aligned.
  std::string render(const std::string& indent = "") const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace adrs
