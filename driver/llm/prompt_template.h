// PromptTemplate: the plain-text prompt files in prompts/ that users edit.
//
// Syntax (deliberately tiny):
//   {{name}}              the value of variable `name` (an error when the template names a
//                         variable the caller does not provide: a typo must not send a prompt
//                         with a hole in it)
//   {{#name}} ... {{/name}}   the enclosed text only when `name` is not empty (no nesting of
//                         the same name)
//   {{! comment }}        dropped
// Errors name the file and the line: "prompts/diff.txt:12: unknown variable {{parnet_source}}".
#pragma once

#include <map>
#include <string>

#include "util/status.h"

namespace adrs {

using PromptVariables = std::map<std::string, std::string>;

// Renders `text` (read from `file_name`, used in messages) with `variables`.
Status render_template(const std::string& file_name, const std::string& text, const PromptVariables& variables,
                       std::string* out);

// Reads `dir`/`name` and renders it. A missing file is an error naming the path.
Status render_template_file(const std::string& dir, const std::string& name, const PromptVariables& variables,
                            std::string* out);

}  // namespace adrs
