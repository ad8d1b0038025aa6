// Interpolation: `${NAME}` and `${NAME:default}` references to environment variables in
// the scalars of a project file.
//
// A reference may stand alone or inside longer text ("gs://${BUCKET:dev}/model.pkl"), and
// a scalar may hold several. A set variable wins even when empty; an unset one takes the
// default; an unset one without a default is an error. `$` not followed by `{` is kept.
// Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier {

// Errors: InvalidArgument naming the variable when it is unset without a default, or the
// text when a reference is not closed or names no valid variable.
Result<std::string> Interpolate(std::string_view text, const Environment& env);

}  // namespace somlier
