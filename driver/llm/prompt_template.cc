#include "driver/llm/prompt_template.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "util/file.h"

namespace adrs {
namespace {

int line_at(const std::string& text, size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + std::min(offset, text.size()), '\n'));
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string known_names(const PromptVariables& variables) {
  std::string names;
  for (const auto& [name, value] : variables) names += (names.empty() ? "" : ", ") + name;
  return names;
}

}  // namespace

Status render_template(const std::string& file_name, const std::string& text, const PromptVariables& variables,
                       std::string* out) {
  out->clear();
  // Open sections: name, and whether their text is being kept.
  std::vector<std::pair<std::string, size_t>> open;
  std::vector<bool> keep = {true};
  size_t pos = 0;
  auto error = [&](size_t at, const std::string& what) {
    return Status::Error(file_name + ":" + std::to_string(line_at(text, at)) + ": " + what);
  };
  while (pos < text.size()) {
    const size_t tag = text.find("{{", pos);
    if (keep.back()) out->append(text, pos, (tag == std::string::npos ? text.size() : tag) - pos);
    if (tag == std::string::npos) break;
    const size_t close = text.find("}}", tag + 2);
    if (close == std::string::npos) return error(tag, "'{{' without a closing '}}'");
    const std::string inside = trim(text.substr(tag + 2, close - tag - 2));
    pos = close + 2;
    if (inside.empty()) return error(tag, "empty {{ }}");
    if (inside[0] == '!') continue;
    if (inside[0] == '#' || inside[0] == '/') {
      const std::string name = trim(inside.substr(1));
      const auto it = variables.find(name);
      if (it == variables.end())
        return error(tag, "unknown variable {{" + inside + "}}; the variables are: " + known_names(variables));
      if (inside[0] == '#') {
        open.push_back({name, tag});
        keep.push_back(keep.back() && !it->second.empty());
      } else {
        if (open.empty() || open.back().first != name)
          return error(tag, "{{/" + name + "}} closes " + (open.empty() ? "nothing" : "{{#" + open.back().first + "}}"));
        open.pop_back();
        keep.pop_back();
      }
      // A section tag alone on its line takes the line's newline with it.
      if (pos < text.size() && text[pos] == '\n' && (tag == 0 || text[tag - 1] == '\n')) ++pos;
      continue;
    }
    const auto it = variables.find(inside);
    if (it == variables.end())
      return error(tag, "unknown variable {{" + inside + "}}; the variables are: " + known_names(variables));
    if (keep.back()) out->append(it->second);
  }
  if (!open.empty()) return error(open.back().second, "{{#" + open.back().first + "}} is never closed");
  return Status::Ok();
}

Status render_template_file(const std::string& dir, const std::string& name, const PromptVariables& variables,
                            std::string* out) {
  const std::string path = dir + "/" + name;
  std::string text;
  if (!read_file(path, &text).ok())
    return Status::Error("cannot read prompt template " + path + "; restore it from the source tree's prompts/");
  return render_template(path, text, variables, out);
}

}  // namespace adrs
