// Interpolation: `${NAME}` and `${NAME:default}` references to environment variables in
// the scalars of a project file.
//
// A reference may stand alone or inside longer text ("gs://${BUCKET:dev}/model.pkl"), and
// a scalar may hold several. A set variable wins even when empty; an unset one takes the
// default; an unset one without a default is an error. `$` not followed by `{` is kept.
// A default may itself hold references, `${MODEL:${USER}-model}`, interpolated only when
// the default is used, at most kMaxInterpolationDepth references deep (counting the
// outermost); a variable's value is inserted as it is, never interpolated.
// Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier {

// The deepest nesting of references Interpolate accepts; `${A:${B:${C}}}` is 3 deep.
inline constexpr int kMaxInterpolationDepth = 8;

// Errors: InvalidArgument naming the variable when it is unset without a default, or the
// text when a reference is not closed, names no valid variable, or nests deeper than
// kMaxInterpolationDepth.
Result<std::string> Interpolate(std::string_view text, const Environment& env);

}  // namespace somlier
